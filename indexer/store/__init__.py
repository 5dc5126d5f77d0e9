"""The index directory format: bundle, metadata, checksums, safe writes to disk."""
