"""``latentsearch bench``: retrieval quality and speed, its metrics and report."""
