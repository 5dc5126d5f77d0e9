"""An update's plan made in a second process while this one imports Keras.

``latentsearch index --update`` spends seconds importing Keras and its backend before it
can encode anything, and as long again, on a large folder, listing it, checking sizes and
times and reading the build's metadata. The plan needs no Keras (``update_plan``), so the
command line forks a process for it before that import; ``update_index`` collects it,
after verifying the build's checksums itself while the plan is still being made.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from concurrent.futures import Future, ProcessPoolExecutor

from latentsearch.indexer.pipeline.update_plan import Planned, PlanRequest, plan_for
from latentsearch.indexer.store.manifest import (
    IndexLoadError,
    Manifest,
    current_index_build,
    verify_build,
)

log = logging.getLogger(__name__)
_STARTED: dict[PlanRequest, Future[Planned]] = {}


def plan_ahead(request: PlanRequest) -> bool:
    """Start ``plan_for(request)`` in a forked process; returns whether it started.

    Only on Linux and before Keras is imported: forking a process that already runs the
    backend's threads is unsafe, and then there is no import left to overlap.
    """
    if sys.platform != "linux" or "keras" in sys.modules:
        return False
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    # the build's files are verified by ``planned``, in this process, meanwhile
    _STARTED[request] = pool.submit(plan_for, request, False)
    pool.shutdown(wait=False)  # the process ends once the plan is made
    log.debug("planning the update in a second process")
    return True


def planning_ahead(request: PlanRequest) -> bool:
    """Whether a plan for ``request`` is still being made in a second process."""
    started = _STARTED.get(request)
    return started is not None and not started.done()


def planned(request: PlanRequest) -> Planned:
    """The plan for ``request``: the one ``plan_ahead`` started, else made here and now."""
    started = _STARTED.pop(request, None)
    if started is not None:
        try:
            return _verified_here(request, started)
        except Exception as err:  # planned again below, so an error keeps its traceback
            log.debug("the plan made ahead failed (%s); planning again", err)
    return plan_for(request)


def _verified_here(request: PlanRequest, started: Future[Planned]) -> Planned:
    """The plan made ahead, once this process has verified the build it was made against:
    hashing the build's files (seconds at a million photos) overlaps the plan's end."""
    previous = current_index_build(request.out_dir)
    verify_build(previous, Manifest.load(previous))
    ahead = started.result()
    if ahead.previous != previous:
        raise IndexLoadError(f"{request.out_dir} moved on to {previous.name} meanwhile")
    return ahead
