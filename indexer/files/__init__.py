"""Image files to arrays: decoding, folders read in batches, the embedded corpus."""
