#!/usr/bin/env bash
# One call on a machine with an accelerator: install the carried wheels, then measure.
#
#   WHEELS=DIR benchmarks/gpu_check.sh [gpu_check.py options]     (docs/gpu.md)
#
# WHEELS: a folder of wheels to install (--no-deps, --no-index) into TARGET (default: a
# fresh temporary folder) for this run only; unset, the current environment is used as it
# is. PYTHON (default python3) runs everything; KERAS_BACKEND defaults to jax.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
export KERAS_BACKEND="${KERAS_BACKEND:-jax}" TF_CPP_MIN_LOG_LEVEL=2
if [ -n "${WHEELS:-}" ]; then
  target="${TARGET:-$(mktemp -d)/site-packages}"
  # --no-deps: the machine's own numpy, h5py, Pillow, ml_dtypes and JAX stay in use;
  # only what the folder carries is added
  if "$python" -m pip --version >/dev/null 2>&1; then
    "$python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
      --target "$target" "$WHEELS"/*.whl
  else  # a wheel is a zip laid out as site-packages: unpacking is installing, scripts aside
    for wheel in "$WHEELS"/*.whl; do "$python" -m zipfile -e "$wheel" "$target"; done
  fi
  export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
  echo "installed $(ls "$WHEELS"/*.whl | wc -l) wheels into $target"
fi
"$python" - <<'PY'
import importlib, sys
needed = ("keras", "faiss", "numpy", "h5py", "PIL", "tqdm", "optree", "namex", "rich", "absl",
          "packaging", "typing_extensions")
missing = []
for name in needed:
    try:
        importlib.import_module(name)
    except ImportError as err:
        missing.append(f"{name} ({err})")
if missing:
    sys.exit("gpu_check: cannot import " + "; ".join(missing) + ": carry the wheels (docs/gpu.md)")
PY
exec "$python" "$repo/benchmarks/gpu_check.py" "$@"
