"""What ``framestamp reproduce`` runs: the experiments (recipes) and how each is evaluated."""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..train.config import TrainConfig


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation: which split and question mode, how many queries."""

    split: str
    # "one", "all", "presence" (a present and an absent single-occurrence question per clip), or a
    # standard metric of what the user-facing API returns for whole clips (``reproduce.run.STANDARD_MODES``):
    # "diarize" (DER, JER, speaker count) or "events_f1" (event-based F1); ``limit`` then counts clips;
    # "probe": the match probe read as an answer to the "one" questions (``evaluate.probe_reading``);
    # "window": choose the model's window for long audio (``reproduce.run.WINDOW_MODE``); "align": the
    # "all" questions about words with each clip's transcript given (``reproduce.run.ALIGN_MODE``).
    mode: str
    limit: int | None = None
    # Also report accuracy by these groupings of the questions (``reproduce.run.GROUPINGS``): "time"
    # (target-time bucket: length generalisation), "subject" (the event class asked about), "overlap"
    # (other voices at a speaker's onset), "source" (where the clip's audio came from). Checks on
    # input unlike the test clips (``reproduce.run.ROBUSTNESS_MODES``): "nonspeech", "presence_long",
    # "late_words" (``evaluate.robustness``; ``limit`` counts their questions).
    by: tuple[str, ...] = ()
    # Evaluate on copies of the clips as users' recordings often are (``evaluate.copies.KINDS``: "8khz",
    # "8bit", written in that format and read back; "late", after a lead-in); None: the clips as built.
    copy: str | None = None
    # The built-in corpus (a size name) whose split this is, when not the run's own: the open-vocabulary
    # models answer the closed ones' test questions, the closed ones the open corpus's held-out words.
    corpus: str | None = None


@dataclass(frozen=True)
class Experiment:
    """A recipe to train and the evaluations of its final model."""

    recipe: str
    evals: tuple[EvalSpec, ...]
    ships_as: str | None = None  # name under src/framestamp/checkpoints/
    init_from: str | None = None  # start from this experiment's trained backbone (a fresh head)
    preset: str = "tiny-scratch"  # the backbone preset, and the recipe folder (src/framestamp/recipes/<preset>/)

    @property
    def continue_from(self) -> str | None:
        """The experiment whose trained model (head included) this one continues: the run named by
        its recipe's ``init_from`` (``runs/<experiment>/final``)."""
        start = recipe(self.recipe, preset=self.preset).init_from
        return Path(start).parent.name if start else None

    @property
    def starts_from(self) -> str | None:
        """The experiment whose trained model this one starts from, if any."""
        return self.continue_from or self.init_from

    @property
    def name(self) -> str:
        return self.recipe


ONE = (EvalSpec("test", "one", 400), EvalSpec("test_long", "one", 200, by=("time",)), EvalSpec("test", "presence", 200))
# The short-clip stages double as the length-generalisation study: trained on clips of at most
# 5 s, they are tested by target time on clips of up to 20 s (test) and 20-60 s (test_long).
STAGE = (EvalSpec("test", "one", 400, by=("time",)), EvalSpec("test_long", "one", 200, by=("time",)))
ALL = (EvalSpec("test", "all", 200),)
# The all-words models train on the open corpus (their question names no word, but a user's recording
# holds words the grammar never says): its test clips, the grammar-only corpus's, and clips made of
# words held out of training; each with the count inferred, and with the transcript given.
ALL_OPEN = tuple(EvalSpec(split, mode, 200, corpus=corpus) for mode in ("all", "align")
                 for split, corpus in (("test", None), ("test", "default"), ("test_unseen", None)))  # fmt: skip
# The same kind of questions on training clips: how well a model fits what it saw, against test.
FIT = EvalSpec("train", "one", 300)
# Before the others: the window length long audio is cut into, chosen on dev questions, half of
# them on dev clips joined into 20-60 s recordings (``evaluate.window_choice``). Not for speakers:
# joined clips would hold different people under one "speaker 1".
WINDOW = (EvalSpec("dev", "window", 96),)


def _test_also_by(*groupings: str) -> tuple[EvalSpec, ...]:
    """``ONE`` with its test questions also broken down by ``groupings``."""
    return (replace(ONE[0], by=groupings), *ONE[1:])


# The field's standard metrics, on what ``Stamper.diarize`` / ``Stamper.events`` return for test clips.
DIARIZE = EvalSpec("test", "diarize", 100)
EVENTS_F1 = EvalSpec("test", "events_f1", 100)

EVENTS = _test_also_by("subject") + (EVENTS_F1,)  # each class's test recordings are ones training never heard
# where the speech came from (synthetic voices, or the recorded one); voices heard in training or new
WORDS = _test_also_by("source", "voice")
# how many others speak when the asked speaker starts; the asked speaker's voice heard in training or new
SPEAKERS = _test_also_by("overlap", "voice") + (DIARIZE,)

SCRATCH = (
    # Words in two stages: clips of at most 5 s until the head finds the asked word (the tiny
    # model does not get there on long clips), then every clip length of the corpus.
    Experiment("words-ihp-short", STAGE),
    Experiment("words-ihp", WORDS),  # its recipe continues words-ihp-short
    Experiment("words-token-short", STAGE),
    Experiment("words-token", WORDS),  # its recipe continues words-token-short
    # The other tasks fine-tune the word model's backbone: it plays the part of the pre-trained
    # audio LM, and frame and token variants of a task start from the same weights.
    # All word starts: from the first stage's backbone (one stage from scratch, as the word model
    # the stored words-all runs started from, which no recipe makes any more).
    Experiment("words-all", ALL, "words-all", init_from="words-ihp-short"),
    Experiment("words-all-token", ALL, "words-all-token", init_from="words-ihp-short"),
    Experiment("speakers-ihp", SPEAKERS, init_from="words-ihp"),
    Experiment("speakers-token", SPEAKERS, init_from="words-ihp"),
    Experiment("events-ihp", EVENTS, init_from="words-ihp"),
    Experiment("events-token", EVENTS, init_from="words-ihp"),
    # The IHP models, trained on: 30% of their questions now ask about something the clip does
    # not hold (the head learns to say "not there"); their recipes continue them.
    Experiment("words-ihp-absent", WORDS + (FIT,)),
    Experiment("speakers-ihp-absent", SPEAKERS + (FIT,), "speakers"),
    Experiment("events-ihp-absent", EVENTS + (FIT,), "events"),
    # Their token twins: the same extra stage, so shipped frame and token models share a budget.
    Experiment("words-token-absent", WORDS + (FIT,)),
    Experiment("speakers-token-absent", SPEAKERS + (FIT,), "speakers-token"),
    Experiment("events-token-absent", EVENTS + (FIT,), "events-token"),
    # Length generalisation: words-ihp-absent with a gap of position ids between question and audio.
    Experiment("words-ihp-gap", WORDS + (FIT,)),
    Experiment("speakers-ihp-gap", SPEAKERS),
    # 3,000 more steps for the word and speaker models, and for the word model's token twin: the
    # shipped word models.
    Experiment("words-ihp-long", WORDS + (FIT,), "words"),
    Experiment("speakers-ihp-long", SPEAKERS + (FIT,)),
    Experiment("words-token-long", WORDS + (FIT,), "words-token"),
    # Length generalisation by long audio: words-ihp-long with half its clips followed by another.
    Experiment("words-ihp-joined", WORDS + (FIT,)),
    Experiment("words-token-joined", WORDS + (FIT,)),
    # The other word objectives take the second stage from the first stage's backbone.
    Experiment("words-binary", WORDS, init_from="words-ihp-short"),
    Experiment("words-joint", WORDS, init_from="words-ihp-short"),
    Experiment("speakers-binary", SPEAKERS, init_from="words-ihp"),
    Experiment("speakers-joint", SPEAKERS, init_from="words-ihp"),
    Experiment("events-binary", EVENTS, init_from="words-ihp"),
    Experiment("events-joint", EVENTS, init_from="words-ihp"),
)


# The single questions again on the test clips as users' recordings often are: saved at 8 kHz or
# with 8-bit samples, or starting after a lead-in of 1-30 s of silence or low noise (by voice: the
# issue's "voices never heard, first speakers starting anywhere in the first 30 s").
AS_USERS_FILES = (*(EvalSpec("test", "one", 400, copy=copy) for copy in ("8khz", "8bit")),
                  EvalSpec("test", "one", 400, by=("voice",), copy="late"))  # fmt: skip
LATE_DIARIZE = replace(DIARIZE, copy="late")  # diarize's speaker count when the first one starts late
# Non-speech of 10 s to 60 min, presence on 20-120 s recordings, words first said late in 2-minute
# ones (``evaluate.robustness``; after "presence", whose calibrated threshold they use).
ROBUSTNESS = (EvalSpec("test", "nonspeech", 100), EvalSpec("test", "presence_long", 200),
              EvalSpec("test", "late_words", 200))  # fmt: skip


# Where the hidden states place the asked word (models trained with the match loss): for a token
# twin, whether its thinker found the word when its written time misses.
PROBE = (EvalSpec("test", "probe", 400),)


# Asked of every pre-trained single-question word model after its test questions: the presence fit,
# the match probe, the test clips as users' files, and robustness.
WORD_CHECKS = (FIT,) + PROBE + AS_USERS_FILES + ROBUSTNESS


# Open vocabulary: the word models' second stage on the open corpus (frequent English words in the
# grammar's slots, some of them never in training), each asked word also heard as espeak-ng says it
# (``spoken_words``), or, the other design measured beside it, read in Whisper's BPE pieces. Seen
# against unseen words, and the closed word models' own test questions (each runs 3,000 steps
# after a first stage; the spoken pair's first stage is the closed one's and then 6,000 steps of
# its own on short clips, for the frame model and its token twin alike). The spoken pair ships as
# `words` and `words-token` (a user's recording holds words outside any closed vocabulary), so
# they are asked everything the closed pair is asked.
# The spoken pair's short-clip stage: the stage checks, and words never said in training.
SPOKEN_STAGE = STAGE + PROBE + (EvalSpec("test_unseen", "one", 400, by=("word",)),)

OPEN_WORDS = (
    EvalSpec("test", "one", 400, by=("word", "source", "voice")),
    EvalSpec("test_unseen", "one", 400, by=("word",)),
    EvalSpec("test", "one", 400, corpus="default"),
    EvalSpec("test_long", "one", 200, by=("time",)),
    EvalSpec("test_long", "one", 200, corpus="default"),
    EvalSpec("test", "presence", 200),
    EvalSpec("test_unseen", "presence", 200),
)


def _pretrained(*experiments: Experiment) -> tuple[Experiment, ...]:
    return tuple(replace(e, preset="tiny") for e in experiments)


# The pre-trained preset: the tiny thinker hearing through the frozen Whisper tiny.en tower. Fewer
# stages than from scratch: what the from-scratch chain learnt in extra stages (questions whose
# answer is absent, position gaps, audio like users have) is in each task's one training stage.
PRETRAINED = _pretrained(
    # Words: clips of at most 5 s until the thinker matches the asked word to the audio, then
    # every clip length, with absent questions, non-speech clips and augmented audio.
    Experiment("words-ihp-short", STAGE + PROBE),
    Experiment("words-ihp", WINDOW + WORDS + WORD_CHECKS),  # continues words-ihp-short
    Experiment("words-token-short", STAGE + PROBE),
    Experiment("words-token", WINDOW + WORDS + WORD_CHECKS),  # continues words-token-short
    # The shipped word pair, open vocabulary, hearing the asked word: a short-clip stage that learns
    # to find the word it hears (named by sound alone), then the open second stage, half its
    # questions naming their word in text too. First in line after the first stages: the longest chain.
    Experiment("words-spoken-short", SPOKEN_STAGE),  # continues words-ihp-short
    Experiment("words-token-spoken-short", SPOKEN_STAGE),  # continues words-token-short
    Experiment("words-spoken", WINDOW + OPEN_WORDS + WORD_CHECKS, "words"),  # continues words-spoken-short
    Experiment("words-token-spoken", WINDOW + OPEN_WORDS + WORD_CHECKS, "words-token"),  # continues words-token-spoken-short
    Experiment("words-all", ALL_OPEN, "words-all", init_from="words-ihp-short"),
    Experiment("words-all-token", ALL_OPEN, "words-all-token", init_from="words-ihp-short"),
    # Speakers and events fine-tune the first word stage's backbone with a fresh head: it hears and
    # matches a question to the audio, and is ready first (what the later word stages add is about
    # words); frame and token variants start from the same weights and train the same steps on the same data.
    Experiment("speakers-ihp", SPEAKERS + (FIT,) + AS_USERS_FILES + (LATE_DIARIZE,), "speakers",
               init_from="words-ihp-short"),
    Experiment("speakers-token", SPEAKERS + (FIT,) + AS_USERS_FILES + (LATE_DIARIZE,), "speakers-token",
               init_from="words-ihp-short"),
    Experiment("events-ihp", WINDOW + EVENTS + (FIT,), "events", init_from="words-ihp-short"),
    Experiment("events-token", WINDOW + EVENTS + (FIT,), "events-token", init_from="words-ihp-short"),
    # The other open text side, measured beside the shipped one: BPE pieces (the frame model only).
    Experiment("words-open", WINDOW + OPEN_WORDS),  # continues words-ihp-short
)

PLANS = {"tiny": PRETRAINED, "tiny-scratch": SCRATCH}
# Presets whose final models are rounded to float16 as soon as they are trained (as shipped
# checkpoints are, ``reproduce.ship.store_half_precision``): the weights later stages start from,
# the ones evaluated and the ones shipped are then the same. The from-scratch plan was evaluated
# in float32 and measured again as shipped (``reproduce --reevaluate-shipped``).
HALF_PRECISION_FINALS = frozenset({"tiny"})


@dataclass(frozen=True)
class Tables:
    """Which experiments of a plan the README's and the report's tables show (beside the shipped
    models, which every table names by their ``ships_as``)."""

    single: tuple[str, ...]  # single-occurrence test questions
    objectives: tuple[str, ...]  # the same task trained with each objective (empty: none in the plan)
    presence: tuple[str, ...]  # present and absent questions
    long: tuple[str, ...]  # test_long by target time
    short_stage: tuple[str, ...]  # the short-clip stage on test by target time
    retention: tuple[str, ...]  # long clips against test: the report's retention targets
    # (open-vocabulary experiment, its closed namesake of the same budget): the report's seen and new words
    open_vocabulary: tuple[tuple[str, str], ...] = ()


def shipped_names(experiments: tuple[Experiment, ...]) -> dict[str, str]:
    """{shipped checkpoint name: the experiment of ``experiments`` it comes from}."""
    return {e.ships_as: e.name for e in experiments if e.ships_as}


def _scratch_tables() -> Tables:
    ships = shipped_names(SCRATCH)
    frame = tuple(ships[n] for n in ("words", "speakers", "events"))
    token = tuple(ships[n] for n in ("words-token", "speakers-token", "events-token"))
    return Tables(
        single=(ships["words"], "words-ihp-gap", "words-ihp-absent", ships["words-token"], ships["speakers"],
                "speakers-ihp-long", ships["speakers-token"], ships["events"], ships["events-token"]),
        objectives=tuple(f"{task}-{objective}" for task in ("words", "speakers", "events")
                         for objective in ("ihp", "binary", "joint")),
        # the shipped models, and the stages before their absent-question steps
        presence=(*frame, "words-ihp", "speakers-ihp", "events-ihp", *token, "words-token", "speakers-token",
                  "events-token"),
        long=(ships["words"], "words-ihp-gap", "words-ihp-absent", "words-ihp-joined", ships["words-token"],
              ships["speakers"], "speakers-ihp-gap"),
        short_stage=("words-ihp-short", "words-token-short"),
        # the shipped word model, the stages before it with and without position gaps, its token baseline
        retention=(ships["words"], "words-ihp-gap", "words-ihp-absent", ships["words-token"]),
    )  # fmt: skip


TABLES = {
    "tiny-scratch": _scratch_tables(),
    "tiny": Tables(
        single=("words-spoken", "words-open", "words-ihp", "words-token-spoken", "words-token", "speakers-ihp",
                "speakers-token", "events-ihp", "events-token"),
        objectives=(),
        presence=("words-spoken", "words-open", "words-ihp", "speakers-ihp", "events-ihp", "words-token-spoken",
                  "words-token", "speakers-token", "events-token"),
        long=("words-spoken", "words-open", "words-ihp", "words-token-spoken", "words-token", "speakers-ihp",
              "speakers-token", "events-ihp", "events-token"),
        short_stage=("words-ihp-short", "words-token-short", "words-spoken-short", "words-token-spoken-short"),
        retention=("words-spoken", "words-open", "words-ihp", "words-token-spoken", "words-token"),
        open_vocabulary=(("words-spoken", "words-ihp"), ("words-open", "words-ihp"),
                         ("words-token-spoken", "words-token")),
    ),
}

# The plan whose models ship and whose results the README, the report and the model cards show.
FULL = PRETRAINED

QUICK_RECIPES = ("words-ihp-short", "words-token-short")
QUICK_STEPS, QUICK_MINUTES = 400, 4.0


def plan(quick: bool, eval_limit: int | None = None, preset: str | None = None) -> tuple[Experiment, ...]:
    """The experiments of a full or a quick reproduction of ``preset`` (default: the shipped plan's);
    ``eval_limit`` caps queries per evaluation."""
    preset = preset or FULL[0].preset
    if preset not in PLANS:
        raise ConfigError(f"no reproduction plan for preset {preset!r}; known: {', '.join(sorted(PLANS))}")
    if not quick:
        experiments = PLANS[preset]
        if eval_limit is None:
            return experiments
        return tuple(replace(e, evals=tuple(replace(s, limit=eval_limit) for s in e.evals)) for e in experiments)
    small = tuple(EvalSpec(e.split, e.mode, eval_limit or 60, e.by) for e in ONE)
    return tuple(Experiment(r, small, preset=preset) for r in QUICK_RECIPES)


def on_one_corpus(experiments: tuple[Experiment, ...], corpus: str) -> tuple[Experiment, ...]:
    """``experiments`` when every recipe's corpus is overridden by ``corpus`` (toy runs): their
    evaluations of another corpus's clips, and of the open corpus's own split unless ``corpus`` is
    it, are left out."""
    from ..corpus.config import SIZES

    splits = set(SIZES[corpus].words) if corpus in SIZES else {"train", "dev", "test", "test_long"}
    return tuple(replace(e, evals=tuple(s for s in e.evals if s.corpus is None and s.split in splits))
                 for e in experiments)  # fmt: skip


def experiment_config(
    experiment: Experiment, quick: bool = False, runs_dir: str = "runs", corpus: str | None = None,
    max_steps: int | None = None,
) -> TrainConfig:  # fmt: skip
    """The training config of an experiment: its recipe, with the model or backbone it starts from."""
    config = recipe(experiment.recipe, quick, runs_dir, corpus, max_steps, experiment.preset)
    if config.init_from is not None:
        return replace(config, init_from=f"{runs_dir}/{Path(config.init_from).parent.name}/final")
    if experiment.init_from is None:
        return config
    backbone = f"{runs_dir}/{experiment.init_from}/final/backbone"
    return replace(config, model=replace(config.model, backbone_path=backbone))


def with_prerequisites(names: tuple[str, ...], experiments: tuple[Experiment, ...] = FULL) -> tuple[str, ...]:
    """``names`` and, recursively, the experiments (of ``experiments``) they start from."""
    starts = {e.name: e.starts_from for e in experiments}
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += [starts[name]] if starts.get(name) else []
    return tuple(sorted(wanted))


def recipe(
    name: str, quick: bool = False, runs_dir: str = "runs", corpus: str | None = None, max_steps: int | None = None,
    preset: str = "tiny-scratch",
) -> TrainConfig:  # fmt: skip
    """The shipped recipe ``name`` of ``preset`` (``src/framestamp/recipes/<preset>/<name>.yaml``),
    placed under ``runs_dir``; ``quick`` shortens training and uses the small corpus; ``corpus``
    and ``max_steps`` override the recipe."""
    path = resources.files("framestamp.recipes").joinpath(preset, f"{name}.yaml")
    config = TrainConfig.load(path)
    config = replace(config, output_dir=f"{runs_dir}/{name}")
    if quick:
        config = replace(config, max_steps=QUICK_STEPS, max_minutes=QUICK_MINUTES, warmup_steps=50,
                         data=replace(config.data, corpus="small"))  # fmt: skip
    if corpus is not None:
        config = replace(config, data=replace(config.data, corpus=corpus))
    if max_steps is not None:
        config = replace(config, max_steps=max_steps, warmup_steps=min(config.warmup_steps, max_steps))
    return config
