"""``python -m latentsearch.indexer.cli``: the same as the ``latentsearch`` command."""

from latentsearch.indexer.cli.parser import run

run()
