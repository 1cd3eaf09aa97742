"""The Python API: ``framestamp.load(...)`` and one method per question family.

    import framestamp
    model = framestamp.load("words")                   # or a checkpoint directory
    answer = model.locate("clip.wav", word="apple", occurrence=2)
    answer.times_s, answer.count_estimate, answer.presence_probability, answer.present

Every method answers through the one scoring engine (:mod:`framestamp.inference.engine`), the
same one evaluation runs: one forward pass per window of audio (all its questions batched
together), frame scores stitched on the global timeline (:mod:`framestamp.inference.windows`),
times decoded in seconds from the start of the audio. Token baselines load too and answer
``locate`` and ``align`` by generating text.

"Not present" rule (IHP head): with ``Lambda`` the integrated intensity of the answer, the
number of events is Poisson(Lambda), so ``P(present) = P(N >= 1) = 1 - exp(-Lambda)``; the
thing is reported present when that reaches ``presence_threshold``: the one given, else the
threshold the checkpoint was calibrated with on held-out present and absent questions, else 0.5
(Lambda >= ln 2 ~ 0.69). Binary head: ``P(present)`` is the highest frame probability.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import SAMPLE_RATE_HZ, load_audio, prepare_waveform
from ..errors import CheckpointError, ConfigError, FramestampError
from ..tasks import task_named
from ..tasks.prompts import asked_word
from .defaults import MAX_OCCURRENCES, MAX_SPEAKERS, class_names
from .engine import Ask, Engine, FramestampWarning, InferenceConfig
from .stages import stage
from .windows import LongScores

SHIPPED_CHECKPOINTS = (
    "words", "words-all", "speakers", "events", "words-token", "words-all-token", "speakers-token", "events-token",
)  # fmt: skip
AudioInput = str | Path | np.ndarray
# A transcript whose length differs from the expected number of word starts by more than this share
# of its words (and more than this many words) is flagged: probably another recording's.
TRANSCRIPT_SLACK, TRANSCRIPT_SLACK_WORDS = 0.5, 5
# A transcript's placement that runs more than this many words (or this share of its words) from
# where the intensity puts them is flagged (on test clips a few words; on an hour that ran off, over a thousand).
DRIFT_WORDS, DRIFT_SHARE = 10, 0.02
WINDOW_ORDINAL_WARNING = "on audio longer than one window, the k-th occurrence/speaker is counted within each window"


class QuestionError(FramestampError):
    """A question cannot be asked (empty, or about a word the checkpoint cannot read)."""


@dataclass
class Located:
    """Answer to one "when?" question.

    Attributes:
        question: the question asked.
        times_s: decoded times in seconds from the start of the audio (the best guess, also
            when ``present`` is False).
        count_estimate: expected number of events (IHP: integrated intensity Lambda); for a k-th
            word or event on audio longer than one window, the number of occurrences found (at most k).
        presence_probability: P(the thing occurs at least once).
        present: ``presence_probability >= presence_threshold``.
        presence_threshold: the threshold used.
        duration_s: length of the audio in seconds.
        curves: per-frame intensity (or probability) of each question, for plots.
        frame_rate_hz: frames per second of ``curves``.
        presence_learned: whether the model was trained on questions whose answer is absent
            (False: it never saw one, and its presence decision is a guess; None: not known).
        method: how the answer was made: "frame head (ihp)", "frame head (binary)" or "token
            baseline (generated text)".
        generated_text: the token baseline's answer as it was generated (None for frame models).
    """

    question: str
    times_s: list[float]
    count_estimate: float
    presence_probability: float
    present: bool
    presence_threshold: float
    duration_s: float
    curves: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    frame_rate_hz: float = 100.0
    presence_learned: bool | None = None
    method: str = "frame head (ihp)"
    generated_text: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready fields (without the curves)."""
        return {k: v for k, v in asdict(self).items() if k != "curves"}


@dataclass(frozen=True)
class Span:
    """A labelled time span in seconds; ``end_s`` is None when only the start was decoded."""

    label: str
    start_s: float
    end_s: float | None = None


@dataclass
class Timeline:
    """Every word, speaker or event of a recording.

    Attributes:
        task: "words", "speakers" or "events".
        spans: sorted by start.
        count_estimate: expected number of items (Lambda of the onset question; the number of
            detected items when per-class questions were asked).
        duration_s: length of the audio in seconds.
        questions: the questions asked.
        curves, frame_rate_hz: as in :class:`Located`.
    """

    task: str
    spans: list[Span]
    count_estimate: float
    duration_s: float
    questions: list[str]
    curves: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    frame_rate_hz: float = 100.0

    def to_dict(self) -> dict:
        """JSON-ready fields (without the curves)."""
        return {k: v for k, v in asdict(self).items() if k != "curves"}


def build_ask(
    word: str | None = None, occurrence: int = 1, end: bool = False, event: str | None = None,
    speaker: int | None = None, question: str | None = None, every: bool = False,
) -> Ask:  # fmt: skip
    """The engine's question for exactly one of ``word``, ``event``, ``speaker`` or a free ``question``
    (``every``: a free question asking for every occurrence)."""
    given = [name for name, value in (("word", word), ("event", event), ("speaker", speaker), ("question", question))
             if value is not None]  # fmt: skip
    if len(given) != 1:
        raise QuestionError(f"give exactly one of word, event, speaker or question (got {', '.join(given) or 'none'})")
    if every and question is None:
        raise QuestionError("'every occurrence' goes with a free question (the templates ask for one occurrence)")
    boundary = "end" if end else "start"
    if question is not None:
        if not question.strip():
            raise QuestionError("the question is empty")
        return Ask(question.strip(), "all" if every else "one", boundary=boundary)
    if speaker is not None:
        if speaker < 1:
            raise QuestionError(f"speakers are counted from 1, got {speaker}")
        task, subject, k = task_named("speaker"), "", speaker
    else:
        if occurrence < 1:
            raise QuestionError(f"occurrences are counted from 1, got {occurrence}")
        task, subject, k = task_named("word" if word is not None else "event"), (word if word is not None else event), occurrence
        subject = subject.strip()
        if not subject:
            raise QuestionError(f"the {task.name} is empty")
        if task.name == "word":
            subject = spoken_word(subject)
    return Ask(task.question(subject, k, boundary), "one", task=task, subject=subject, k=k, boundary=boundary)


def spoken_word(word: str) -> str:
    """``word`` as the corpus writes what is said (lowercase, no punctuation around it): the form the
    models were asked about in training. One word only: nothing to ask about, or a phrase, is a
    ``QuestionError``."""
    from ..corpus.text import tokens

    spoken = tokens(word)
    if not spoken:
        raise QuestionError(f"{word!r} has no letter or digit to listen for")
    if len(spoken) > 1:
        raise QuestionError(f"ask about one word at a time ({word!r} is {len(spoken)} words: {', '.join(spoken)})")
    return spoken[0]


def build_question(
    word: str | None = None, occurrence: int = 1, end: bool = False, event: str | None = None,
    speaker: int | None = None, question: str | None = None,
) -> str:  # fmt: skip
    """The question text for exactly one of ``word``, ``event``, ``speaker`` or a free ``question``."""
    return build_ask(word, occurrence, end, event, speaker, question).question


def shipped_checkpoints_dir() -> Path:
    """Where the shipped checkpoints live inside the installed package."""
    return Path(str(resources.files("framestamp"))) / "checkpoints"


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """The directory of a checkpoint given as a path or as a shipped name ("words", "speakers", ...)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if str(name_or_path) in SHIPPED_CHECKPOINTS:
        shipped = shipped_checkpoints_dir() / str(name_or_path)
        if shipped.is_dir():
            return shipped
        raise CheckpointError(f"the shipped checkpoint '{name_or_path}' is not installed (no {shipped}); "
                              "pass a checkpoint directory instead (--checkpoint DIR)")
    if path.exists():
        raise CheckpointError(f"checkpoint is not a directory: {path}")
    raise CheckpointError(f"checkpoint not found: '{name_or_path}' is neither a directory nor a shipped name "
                          f"({', '.join(SHIPPED_CHECKPOINTS)})")


def load(name_or_path: str | Path, device: str | None = None, config: InferenceConfig | None = None) -> "Stamper":
    """Load a checkpoint (directory or shipped name) for inference.

    Args:
        name_or_path: a ``save_pretrained`` directory or a shipped checkpoint name.
        device: "cpu", "cuda", ...; None picks CUDA when available.
        config: windowing, decoding and presence settings.

    A token baseline loads too: it answers ``locate`` and ``align`` by generating its answer as
    text (``Located.method`` says so), for comparison with the frame models.

    Raises:
        CheckpointError: the checkpoint is missing or corrupt.
        ConfigError: ``device`` cannot be used.
    """
    import torch

    from ..model import BACKBONE_DIR, CONFIG_NAME, FrameStampModel

    directory = resolve_checkpoint(name_or_path)
    if (directory / CONFIG_NAME).is_file() and not (directory / BACKBONE_DIR).is_dir():
        # without this check transformers would take the missing folder for a hub name and go online
        raise CheckpointError(f"incomplete checkpoint: no {BACKBONE_DIR}/ folder in {directory}")
    try:
        model = FrameStampModel.from_pretrained(directory)
    except FramestampError:
        raise
    except Exception as error:  # a corrupt file can fail deep inside transformers/tokenizers
        reason = (str(error).strip().splitlines() or [""])[0]
        raise CheckpointError(f"cannot load the checkpoint {directory}: {type(error).__name__}: {reason}") from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        model = model.to(device)
    except (RuntimeError, AssertionError) as error:  # an unknown name, or a backend this torch was built without
        raise ConfigError(f"cannot use device '{device}': {(str(error).strip().splitlines() or [''])[0]}") from None
    return Stamper(model, config or InferenceConfig(), str(name_or_path))


class Stamper:
    """A loaded model answering "when?" questions about audio of any length (through :class:`Engine`)."""

    def __init__(self, model, config: InferenceConfig | None = None, name: str = ""):
        self.model = model
        self.config = config or InferenceConfig()
        self.name = name
        self.engine = Engine(model, self.config)

    @property
    def head(self):
        return self.engine.head

    @property
    def presence_threshold(self) -> float:
        return self.engine.presence_threshold

    @property
    def answers_every(self) -> bool:
        """Whether the head was trained on "each ..." questions (True when the checkpoint does not say)."""
        modes = self.model.config.question_modes
        return modes is None or "all" in modes

    @property
    def method(self) -> str:
        """How this model answers: from frame scores, or generated text (the token baseline)."""
        if self.head.generates_text:
            return "token baseline (generated text)"
        return f"frame head ({self.head.name})"

    # ----- the four question families -------------------------------------------------------
    def locate(
        self, audio: AudioInput, *, word: str | None = None, occurrence: int = 1, end: bool = False,
        event: str | None = None, speaker: int | None = None, question: str | None = None, every: bool = False,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
    ) -> Located:  # fmt: skip
        """When is the ``occurrence``-th ``word`` / ``event`` said, or ``speaker`` starts (``end``:
        ends)? Or a free ``question``; ``every``: it asks for every occurrence. On audio longer
        than one window the ``occurrence``-th word or event is counted over the whole recording.

        Args:
            audio: a file path, or float samples at ``sample_rate_hz`` (mono or ``[samples, channels]``).

        Returns:
            times in seconds, the count estimate and the presence decision.
        """
        ask = build_ask(word, occurrence, end, event, speaker, question, every)
        if not (self.hears_asked_words and asked_word(ask.question) is not None):  # a heard word needs no vocabulary
            self._check_vocabulary(word if word is not None else event, question)
        if word is not None and not ask.task.askable(ask.subject):
            warnings.warn(f"'{ask.subject}' is never asked about in training (it asks about words of letters alone, "
                          "and no stop words such as 'the' or 'of'), so this answer is a guess", FramestampWarning,
                          stacklevel=2)  # fmt: skip
        waveform = self.waveform(audio, sample_rate_hz)
        answer = self.engine.answer([waveform], [ask])[0]
        p = answer.presence_probability
        curves = {} if answer.scores is None else {ask.question: self._curve(answer.scores)}
        return Located(ask.question, [float(t) for t in answer.times_s], answer.count_estimate, p,
                       p >= self.presence_threshold, self.presence_threshold, waveform.size / SAMPLE_RATE_HZ,
                       curves, self.model.frame_rate_hz, self.model.config.answers_absent, self.method,
                       answer.text)  # fmt: skip

    def align(
        self, audio: AudioInput, transcript: str | Sequence[str] | None = None, ends: bool = False,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
    ) -> Timeline:  # fmt: skip
        """Start (and, with ``ends``, end) of every word, from the "each word" questions.

        With a ``transcript`` (a string, or a list of words or lines) exactly its words are placed,
        in order, each by the intensity and its length (:mod:`framestamp.decoders_transcript`),
        labelled as the corpus writes what is said (``corpus.text.tokens``: "Hello, world!" is the 2
        words "hello" and "world"); a transcript far from the number of word starts heard is
        answered with a warning."""
        from ..corpus.text import tokens

        if transcript is not None and not isinstance(transcript, str):  # a list of words (or of lines)
            if not all(isinstance(part, str) for part in transcript):
                raise QuestionError("a transcript is a string, or a list of strings")
            transcript = " ".join(transcript)
        words = tokens(transcript) if transcript is not None else None
        if words is not None and not words:
            raise QuestionError("the transcript has no words")
        self._need_every("aligning every word", "a model trained on 'each word' questions, such as 'words-all'")
        word = task_named("word")
        questions = [word.all_question("start")] + ([word.all_question("end")] if ends else [])
        if self.head.generates_text:
            return self._generated_timeline(audio, questions, words, sample_rate_hz)
        long = self.scores(audio, questions, sample_rate_hz)
        starts, count = self._decode_all(long.scores[0], transcript=words)
        if words is not None and transcript_mismatch(len(words), count):
            warnings.warn(f"the transcript has {len(words)} words, but the audio sounds like about {count:.0f} "
                          "(the expected number of word starts): is it this recording's transcript?",
                          FramestampWarning, stacklevel=2)  # fmt: skip
        elif words is not None:
            self._warn_on_drift(long.scores[0], starts)
        # words do not overlap: the k-th end belongs to the k-th start
        stops = self._decode_all(long.scores[1], len(starts))[0] if ends else [None] * len(starts)
        labels = words or ["word"] * len(starts)
        spans = [Span(label, s, None if e is None else max(e, s)) for label, s, e in zip(labels, starts, stops)]
        return self._timeline(word.subset, spans, count, long, questions)

    def diarize(
        self, audio: AudioInput, ends: bool = False, max_speakers: int = MAX_SPEAKERS,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
    ) -> Timeline:  # fmt: skip
        """Onset of every speaker (speaker k = the k-th to start) and, with ``ends``, the end of
        their first turn (each onset takes the earliest unused decoded end after it).

        A model trained only on "k-th speaker" questions is asked about the 1st..``max_speakers``-th
        speaker; the k-th is kept while it starts after the (k-1)-th and, if the head was trained on
        questions about speakers who are not there (``answers_absent``), while it is present. Heads
        never shown such a question do not know: their Lambda does not tell (measured on the dev split).
        """
        self._need_frames("diarize")
        if self.answers_every:
            return self._onset_timeline(audio, task_named("speaker"), lambda k: f"speaker_{k}", ends, sample_rate_hz)
        return self._ordinal_speakers(audio, ends, max_speakers, sample_rate_hz)

    def events(
        self, audio: AudioInput, classes: str | Sequence[str] | None = None, ends: bool = False,
        max_occurrences: int = MAX_OCCURRENCES, sample_rate_hz: int = SAMPLE_RATE_HZ,
    ) -> Timeline:  # fmt: skip
        """Sound events: without ``classes``, every onset (and offset) from the "each sound event"
        questions, labelled "event"; with ``classes``, the 1st..``max_occurrences``-th occurrence
        of each class, kept while present (see the module's presence rule) and later than the
        (k-1)-th. Without classes the head must have been trained on "each ..." questions.
        ``classes``: class names, each string possibly several comma-separated ones."""
        self._need_frames("events")
        classes = class_names(classes or ())
        if not classes:
            self._need_every("every event without classes", "event classes to ask about (--classes), or a model "
                             "trained on 'each sound event' questions")  # fmt: skip
            return self._onset_timeline(audio, task_named("event"), lambda k: "event", ends, sample_rate_hz)
        return self._class_events(audio, list(classes), ends, max_occurrences, sample_rate_hz)

    # ----- shared machinery -----------------------------------------------------------------
    def scores(self, audio: AudioInput, questions: Sequence[str], sample_rate_hz: int = SAMPLE_RATE_HZ) -> LongScores:
        """Frame scores ``[Q, T]`` of ``questions`` over the whole audio (windowed, stitched)."""
        return self.engine.scores(self.waveform(audio, sample_rate_hz), questions)

    @staticmethod
    def waveform(audio: AudioInput, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
        """Float32 mono 16 kHz samples of a path or an array (``AudioError`` when unusable)."""
        with stage("read"):
            if isinstance(audio, (str, Path)):
                return load_audio(audio)
            return prepare_waveform(np.asarray(audio), sample_rate_hz)

    def _generated_timeline(self, audio, questions, words, sample_rate_hz) -> Timeline:
        """The token baseline's "each word" answer (starts only; labelled with the transcript)."""
        waveform = self.waveform(audio, sample_rate_hz)
        answer = self.engine.answer([waveform], [Ask(questions[0], "all", boundary="start")])[0]
        starts = [float(t) for t in answer.times_s]
        labels = (words or []) + ["word"] * max(0, len(starts) - len(words or []))
        spans = [Span(label, s) for label, s in zip(labels, starts)]
        return Timeline("words", spans, float(len(spans)), waveform.size / SAMPLE_RATE_HZ, questions[:1], {},
                        self.model.frame_rate_hz)  # fmt: skip

    def _onset_timeline(self, audio, task, label_of, ends: bool, sample_rate_hz: int) -> Timeline:
        """Every onset from the "each ..." question; with ``ends``, each takes the earliest
        unused end after it (speaker turns and events may overlap)."""
        questions = [task.all_question("start")] + ([task.all_question("end")] if ends else [])
        long = self.scores(audio, questions, sample_rate_hz)
        onsets, count = self._decode_all(long.scores[0], None)
        stops = pair_ends(onsets, self._decode_all(long.scores[1], len(onsets))[0]) if ends else None
        spans = [Span(label_of(k), s, stops[k - 1] if stops else None) for k, s in enumerate(onsets, 1)]
        return self._timeline(task.subset, spans, count, long, questions)

    def _ordinal_speakers(self, audio, ends: bool, max_speakers: int, sample_rate_hz: int) -> Timeline:
        speaker = task_named("speaker")
        boundaries = ("start", "end") if ends else ("start",)
        questions = [speaker.question("", k, b) for k in range(1, max_speakers + 1) for b in boundaries]
        long = self._ordinal_scores(audio, questions, max_speakers, sample_rate_hz)
        spans = self._occurrences(long, 0, max_speakers, ends, lambda k: f"speaker_{k}",
                                  check_presence=self.model.config.answers_absent)
        return self._timeline(speaker.subset, spans, float(len(spans)), long, questions,
                              rows=slice(None, None, len(boundaries)))  # fmt: skip

    def _ordinal_scores(self, audio, questions: list[str], max_k: int, sample_rate_hz: int) -> LongScores:
        """Scores of "k-th" questions (k up to ``max_k``), warning that on several windows k counts within each."""
        long = self.scores(audio, questions, sample_rate_hz)
        if len(long.regions) > 1 and max_k > 1:
            warnings.warn(WINDOW_ORDINAL_WARNING, FramestampWarning, stacklevel=4)
        return long

    def _occurrences(self, long: LongScores, first_row: int, max_k: int, ends: bool, label_of,
                     check_presence: bool) -> list[Span]:  # fmt: skip
        """The 1st..``max_k``-th occurrence from the rows of "k-th" questions starting at ``first_row``
        (a start row, then an end row with ``ends``): the k-th is kept while it is later than the
        (k-1)-th and, with ``check_presence``, present; a missing k-th means no later one either."""
        per_ask = 2 if ends else 1
        spans = []
        for k in range(1, max_k + 1):
            row = long.scores[first_row + (k - 1) * per_ask]
            start = self._decode_one(row)
            absent = check_presence and self.head.presence_probability(row, long.frame_rate_hz) < self.presence_threshold
            if absent or (spans and start <= spans[-1].start_s):
                break
            stop = self._decode_one(long.scores[first_row + (k - 1) * per_ask + 1]) if ends else None
            spans.append(Span(label_of(k), start, None if stop is None else max(stop, start)))
        return spans

    def _need_every(self, what: str, instead: str) -> None:
        if not self.answers_every:
            raise QuestionError(f"{what} needs a head trained on 'each ...' questions; {self.name or 'this model'} "
                                f"was trained on single-occurrence questions only: use {instead}")

    def _need_frames(self, what: str) -> None:
        if self.head.generates_text:
            raise QuestionError(f"{self.name or 'this model'} is a token baseline: it answers locate and align; "
                                f"{what} needs a frame model")  # fmt: skip

    def _class_events(self, audio, classes, ends, max_occurrences, sample_rate_hz) -> Timeline:
        """The 1st..``max_occurrences``-th occurrence of each class over the whole recording
        (:meth:`Engine.occurrences`), with their ends when asked."""
        for name in classes:
            self._check_vocabulary(name)
        waveform = self.waveform(audio, sample_rate_hz)
        event = task_named("event")
        found = {c: self.engine.occurrences(waveform, event, c, max_occurrences, ends=ends) for c in classes}
        spans = sorted((Span(c, t, None if e is None else max(e, t)) for c, o in found.items()
                        for t, e in zip(o.times_s, o.ends_s)), key=lambda s: s.start_s)  # fmt: skip
        boundaries = ("start", "end") if ends else ("start",)
        questions = [event.question(c, k, b) for c in classes for k in range(1, max_occurrences + 1) for b in boundaries]
        curves = {event.question(c, k, "start"): self._curve(found[c].start_row(k)) for c in classes
                  for k in range(1, max_occurrences + 1)}  # fmt: skip
        duration_s = waveform.size / SAMPLE_RATE_HZ
        return Timeline(event.subset, spans, float(len(spans)), duration_s, questions, curves, self.model.frame_rate_hz)

    def _timeline(self, task, spans, count, long: LongScores, questions, rows: slice = slice(None)) -> Timeline:
        """A ``Timeline`` whose curves are the intensities of the questions in ``rows``."""
        curves = {q: self._curve(row) for q, row in zip(questions[rows], long.scores[rows])}
        return Timeline(task, spans, count, long.duration_s, list(questions), curves, long.frame_rate_hz)

    def _warn_on_drift(self, row: np.ndarray, starts: Sequence[float]) -> None:
        """Warn when the transcript's words run far from where the model hears word starts: a
        placement that went a word off and never came back (long recordings)."""
        from ..decoders_transcript import drift_in_words

        drift = drift_in_words(self.head.curve(row), np.asarray(starts), self.model.frame_rate_hz)
        limit = max(DRIFT_WORDS, DRIFT_SHARE * len(starts))
        if drift.size and drift.max() > limit:
            first = float(starts[int(np.argmax(drift > limit))])
            warnings.warn(f"from about {first:.0f} s on, the words are placed up to {drift.max():.0f} words away from "
                          "where the audio's word starts are (the placement ran off): split a long transcript at "
                          "its paragraphs and align each with its stretch of audio", FramestampWarning, stacklevel=3)  # fmt: skip

    def _decode_all(
        self, row: np.ndarray, n_events: int | None = None, transcript: Sequence[str] | None = None
    ) -> tuple[list[float], float]:  # fmt: skip
        """Every event: times (s) and the count estimate; a given ``n_events`` gives exactly that
        many times (IHP; a binary head gives its top peaks), a ``transcript`` its words' starts."""
        ask = Ask("", "all", n_events, transcript=None if transcript is None else tuple(transcript))
        prediction = self.engine.decode(row, ask)
        return [float(t) for t in prediction.times_s], prediction.count_estimate

    def _decode_one(self, row: np.ndarray) -> float:
        with stage("decoder"):
            return float(self.head.decode(row, self.model.frame_rate_hz, "one", config=self.config.decode).times_s[0])

    def _curve(self, row: np.ndarray) -> np.ndarray:
        """Intensity (events per frame, IHP) or probability (binary) of each frame."""
        return self.head.curve(row).astype(np.float32)

    @property
    def hears_asked_words(self) -> bool:
        """Whether a question about a word carries the word as spoken (any word can be asked;
        :mod:`framestamp.backbones.spoken_words`)."""
        return getattr(self.model.backbone, "hears_asked_words", False)  # a model of another make may not say

    def _check_vocabulary(self, subject: str | None, question: str | None = None) -> None:
        """An unknown ``subject`` (word or event) is an error: the model could not tell which one
        is meant. Unknown words in a free ``question`` are a warning."""
        if subject is not None and self.unknown_words(subject):
            raise QuestionError(f"'{subject}' is not in the vocabulary of checkpoint {self.name} (it would be read "
                                "as <|unk|>, so the model cannot tell which one is meant)")  # fmt: skip
        unknown = self.unknown_words(question) if question is not None else []
        if unknown:
            warnings.warn(f"not in the vocabulary of checkpoint {self.name}, read as <|unk|>: {', '.join(unknown)}",
                          FramestampWarning, stacklevel=3)  # fmt: skip

    def unknown_words(self, text: str) -> list[str]:
        """Whitespace-separated pieces of ``text`` the tokenizer maps to its unknown token."""
        tokenizer = self.model.backbone.tokenizer
        unk = getattr(tokenizer, "unk_token_id", None)
        if unk is None:  # byte-level BPE tokenizers can spell any word
            return []
        return [p for p in text.split() if unk in tokenizer(p, add_special_tokens=False)["input_ids"]]


def transcript_mismatch(words: int, expected_starts: float) -> bool:
    """Whether a transcript of ``words`` words is far from the number of word starts the model
    expects (Lambda): more than ``TRANSCRIPT_SLACK`` of the words apart, and more than
    ``TRANSCRIPT_SLACK_WORDS``, so the usual miscount of a few words is not flagged."""
    return abs(expected_starts - words) > max(TRANSCRIPT_SLACK_WORDS, TRANSCRIPT_SLACK * words)


def pair_ends(starts: Sequence[float], ends: Sequence[float]) -> list[float | None]:
    """Give each start (ascending) the earliest unused end at or after it; None when none is left."""
    ends, paired, j = sorted(ends), [], 0
    for start in starts:
        while j < len(ends) and ends[j] < start:
            j += 1
        paired.append(ends[j] if j < len(ends) else None)
        j += j < len(ends)
    return paired
