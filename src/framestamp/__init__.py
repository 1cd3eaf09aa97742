"""framestamp: timestamps from the hidden states of audio language models, in one forward pass."""

__version__ = "0.1.0"
