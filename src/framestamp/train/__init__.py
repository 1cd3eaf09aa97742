"""Training: batches, objectives, the loop, checkpoints."""
