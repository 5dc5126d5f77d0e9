"""``python -m latentsearch.indexer.cli``: the same as the ``latentsearch`` command."""

import sys

from latentsearch.indexer.cli.parser import main

sys.exit(main())
