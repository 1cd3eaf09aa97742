"""Answering questions about recordings: the scoring engine, windows, the Python API, outputs."""
