"""Datasets as Clips: the internal example, schemas, adapters and ``load_subset``.

Reading datasets needs the ``corpus`` extra (``datasets``); ``Clip`` and ``Segment`` do not.
"""

from framestamp.data.examples import (
    SAMPLE_RATE_HZ, SUBSETS, UNKNOWN_WORD, Clip, Segment, crop_clip, crop_to_words, join_clips,
)  # fmt: skip
from framestamp.data.loading import ClipDataset, DatasetUnavailableError, load_subset
from framestamp.data.schemas import HUB_DATASETS, corpus_features, hub_features

__all__ = [
    "HUB_DATASETS",
    "SAMPLE_RATE_HZ",
    "SUBSETS",
    "UNKNOWN_WORD",
    "Clip",
    "ClipDataset",
    "DatasetUnavailableError",
    "Segment",
    "corpus_features",
    "crop_clip",
    "crop_to_words",
    "hub_features",
    "join_clips",
    "load_subset",
]
