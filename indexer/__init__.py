"""Reading images, bulk encoding, FAISS indexes, the CLI and benchmarks."""
