"""Answering queries: search, the page's facade, the HTTP API, outliers, the map."""
