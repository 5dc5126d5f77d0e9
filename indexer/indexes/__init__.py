"""FAISS only: which index to build, making it, GPUs, PCA, codebook indexes."""
