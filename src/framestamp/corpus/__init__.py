"""The built-in corpus: words, speakers and events with exact timing truth, built offline from
espeak-ng, Festival and Flite speech and Debian sound packages, in the schemas of the paper's hub
datasets; dev and test voices are never heard in train (``framestamp.corpus.voices``)."""

from framestamp.corpus.build import DEFAULT_OUT, build_corpus
from framestamp.corpus.config import SIZES, CorpusConfig, SplitSpec
from framestamp.corpus.sources import MissingSourceError

__all__ = ["DEFAULT_OUT", "SIZES", "CorpusConfig", "MissingSourceError", "SplitSpec", "build_corpus"]
