# Serves the search page for an index directory mounted at /index:
#   docker build -t latentsearch .
#   docker run --rm -p 8501:8501 -v "$PWD/latentsearch-demo/index:/index:ro" latentsearch
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /opt/latentsearch
COPY pyproject.toml README.md ./
COPY encoder ./encoder
COPY indexer ./indexer
COPY webapp ./webapp
RUN pip install . && useradd --create-home search

USER search
EXPOSE 8501
VOLUME ["/index"]
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health')"
CMD ["latentsearch", "app", "--index", "/index", "--port", "8501"]
