"""Evaluation: the paper's protocol (metrics), the field's standard metrics (standard), runs."""
