"""What a reader sees of the page's Markdown, for tests that compare text."""

import re

from latentsearch.webapp.views import WORD_JOINER

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation


def shown(markdown: str) -> str:
    """Names, labels and reasons are escaped on the page (``views.literal``); this undoes
    it, leaving the page's own Markdown (``**``) as it is."""
    return _ESCAPED.sub(r"\1", markdown).replace(WORD_JOINER, "")
