"""framestamp: timestamps from the hidden states of audio language models, in one forward pass.

    import framestamp
    model = framestamp.load("words")          # a shipped name or a checkpoint directory
    model.locate("clip.wav", word="apple", occurrence=2)
"""

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def __getattr__(name: str):
    # ``load`` pulls in torch and transformers: import it on first use so that
    # ``import framestamp`` stays light.
    if name == "load":
        from .inference.api import load

        return load
    raise AttributeError(f"module 'framestamp' has no attribute {name!r}")
