"""The open-vocabulary text side of the tiny thinker: Whisper tiny.en's pieces and token embeddings.

The word-level tokenizer (:func:`framestamp.backbones.tiny_thinker.build_tokenizer`) knows the
corpus's words and reads every other word as ``<|unk|>``. This text side reads any text through
Whisper's byte-level BPE, cut to its ``pieces`` most frequent pieces (the first merges: a word
outside them splits into smaller pieces, down to single bytes, so every string has a spelling),
and embeds each piece with Whisper tiny.en's decoder token embedding, frozen and rebuilt from the
pinned package like the audio tower, through a trained linear map to the thinker's width. The
chat and audio special tokens get trained rows of their own. The LM head is tied: the logits of a
hidden state are its dot products with every embedding row.

Why Whisper's embeddings: they were trained to be read against this encoder's output, and a word
never heard in training still has the embeddings of its pieces. The same map serves words seen
and unseen, so what training teaches it carries over.

The tokenizer lowercases, and turns ``'word'`` into ``' word'`` (a space after an opening quote):
the quoted word of a question is then spelt as in running speech (``Ġword``), and ``'table'`` is
not read as the contraction ``'t`` + ``able``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from tokenizers import Regex, Tokenizer, normalizers
from torch import nn
from transformers import PreTrainedTokenizerFast

from .whisper_weights import WhisperWeightsError, decoder_token_embeddings, locate_package_model, tower_hash

N_BYTES = 256  # byte-level BPE: ids 0-255 are the bytes, id 256 + r is the piece made by merge r
WHISPER_PIECES = 50256  # pieces of Whisper's English BPE (its special tokens come after)
DEFAULT_PIECES = 8192
OPENING_QUOTE = Regex(r"(?<!\S)'(?=\w)")  # a quote at the start or after a space, before a word


@dataclass(frozen=True)
class TextSpec:
    """Where a checkpoint's frozen piece embeddings come from, how many, and what they hash to."""

    source: str = "package"
    pieces: int = DEFAULT_PIECES
    hash: str = ""


def check_pieces(pieces: int) -> int:
    if not N_BYTES <= pieces <= WHISPER_PIECES:
        raise ValueError(f"text_pieces must be within {N_BYTES}..{WHISPER_PIECES}, got {pieces}")
    return pieces


def whisper_tokenizer(pieces: int, special_tokens: list[str], pad: str, eos: str) -> PreTrainedTokenizerFast:
    """Whisper tiny.en's BPE cut to its first ``pieces`` pieces, with ``special_tokens`` after them
    (ids ``pieces`` to ``pieces + len(special_tokens) - 1``), lowercasing, an opening quote spaced
    from its word."""
    check_pieces(pieces)
    spec = json.loads((locate_package_model() / "tokenizer.json").read_text())
    model = spec["model"]
    model["vocab"] = {piece: i for piece, i in model["vocab"].items() if i < pieces}
    model["merges"] = model["merges"][: pieces - N_BYTES]
    spec["added_tokens"], spec["post_processor"] = [], None
    core = Tokenizer.from_str(json.dumps(spec))
    if core.get_vocab_size() != pieces:
        raise WhisperWeightsError(f"the package's tokenizer.json gives {core.get_vocab_size()} pieces, not {pieces}")
    core.normalizer = normalizers.Sequence([normalizers.Lowercase(), normalizers.Replace(OPENING_QUOTE, "' ")])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core)
    tokenizer.add_special_tokens({"pad_token": pad, "eos_token": eos, "additional_special_tokens": special_tokens})
    ids = tokenizer.convert_tokens_to_ids(special_tokens)
    if sorted(ids) != list(range(pieces, pieces + len(special_tokens))):
        raise WhisperWeightsError(f"special tokens landed at ids {ids}, not right after the {pieces} pieces")
    return tokenizer


def piece_embeddings(pieces: int, source: str = "package") -> torch.Tensor:
    """``[pieces, 384]`` float32: Whisper tiny.en's decoder token embeddings of the first pieces."""
    if source != "package":
        raise ValueError(f"piece embeddings come from the pinned package only, not {source!r}")
    return decoder_token_embeddings()[: check_pieces(pieces)].float()


def table_hash(table: torch.Tensor) -> str:
    return tower_hash({"piece_embeddings": table})


class PieceEmbedding(nn.Module):
    """Token embedding of the open text side: frozen piece rows through a trained map, then trained
    rows for the special tokens (ids from ``n_pieces`` on).

    ``table`` is a non-persistent buffer: a checkpoint stores only ``projection`` and ``special``.
    """

    def __init__(self, table: torch.Tensor, n_special: int, width: int):
        super().__init__()
        self.register_buffer("table", table, persistent=False)
        self.projection = nn.Linear(table.shape[1], width, bias=False)
        self.special = nn.Parameter(torch.empty(n_special, width))
        # rows of about the spread of a freshly initialised embedding (std 0.02)
        nn.init.normal_(self.projection.weight, std=0.02 * table.shape[1] ** -0.5 / float(table.std()))
        nn.init.normal_(self.special, std=0.02)

    @property
    def n_pieces(self) -> int:
        return self.table.shape[0]

    @property
    def num_embeddings(self) -> int:
        return self.n_pieces + self.special.shape[0]

    @property
    def weight(self) -> torch.Tensor:
        """``[num_embeddings, width]``: every row (the tied LM head's matrix)."""
        return torch.cat([self.projection(self.table.to(self.projection.weight.dtype)), self.special])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.rows(ids)

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Embedding rows of ``ids`` (any shape), computed for those ids only."""
        is_piece = ids < self.n_pieces
        pieces = self.projection(self.table[ids.clamp(max=self.n_pieces - 1)].to(self.projection.weight.dtype))
        special = self.special[(ids - self.n_pieces).clamp(min=0)]
        return torch.where(is_piece[..., None], pieces, special)


class TiedReadout(nn.Module):
    """The LM head tied to a :class:`PieceEmbedding`: logits are dot products with its rows.

    The embedding is held outside the module tree (no parameters of its own here), so a state dict
    holds each weight once.
    """

    def __init__(self, embedding: PieceEmbedding):
        super().__init__()
        self._embedding = (embedding,)

    @property
    def embedding(self) -> PieceEmbedding:
        return self._embedding[0]

    @property
    def weight(self) -> torch.Tensor:
        return self.embedding.weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.weight.to(hidden.dtype).T

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding.rows(ids)


def attach_piece_embeddings(model, table: torch.Tensor) -> PieceEmbedding:
    """Give a thinker the open text side: ``table``'s rows for ids below its length, trained rows
    after them up to the config's vocabulary size; the LM head tied to them."""
    text = model.config.text_config
    n_special = text.vocab_size - table.shape[0]
    if n_special < 0:
        raise ValueError(f"a vocabulary of {text.vocab_size} is smaller than the {table.shape[0]} pieces")
    embedding = PieceEmbedding(table, n_special, text.hidden_size)
    model.model.language_model.embed_tokens = embedding
    model.lm_head = TiedReadout(embedding)
    return embedding
