"""``results/report.md`` and its figures, from the metrics JSON files of a reproduction."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from ..evaluate.metrics import MATCHINGS, TOLERANCES_S
from .plan import PLANS, TABLES
from .quoted import render_notes
from .stored import (
    SHIPPED_PRESET, STANDARD_EVALUATIONS, Anchors, aligned_record, evaluated, evaluation, is_baseline, load_results,
    run_corpus,
)  # fmt: skip

FIGURES_DIR = "figures"
HEADLINE_TOLERANCES = (0.02, 0.05, 0.1, 0.2)
NOTES_FILE = "notes.md"  # hand-written: what was tried, read into the report after the targets (``reproduce.quoted``)

# (grouping, tolerance s, title, first column, explanation): the report's breakdowns of the test
# questions beside the event classes (see ``reproduce.run.GROUPINGS``).
BREAKDOWNS = (
    ("overlap", 0.1, "Speaker onsets by overlap: accuracy within 100 ms (questions)", "when the speaker starts",
     "How many other speakers are mid-turn at the asked speaker's first onset. Mixture clips (every speaker says "
     "one utterance, starting at a random offset) put most onsets of the 4th to 10th speaker over several voices."),
    ("source", 0.05, "Words by source of the speech: accuracy within 50 ms (questions)", "speech",
     "Synthetic speech has exact word times; the recorded voice (one professional speaker, 8 kHz telephone "
     "prompts) has forced-aligned ones, and its test clips are made of prompts training never heard."),
    ("voice", 0.05, "Seen and new voices: accuracy within 50 ms (questions)", "voice",
     "Whether the asked word (or the asked speaker) is said by a voice training never heard: the corpus assigns "
     "every voice to train, dev or test by a hash of the person (docs/corpus.md). Results stored before the "
     "corpus held voices out have no such table."),
)  # fmt: skip


def write_report(results_dir: Path, quick: bool = False, preset: str = SHIPPED_PRESET) -> Path:
    """Write the report (markdown tables and figures) from the stored metrics of a reproduction of
    ``preset``'s plan."""
    results, anchors = load_results(results_dir), Anchors.load(results_dir)
    figures = results_dir / FIGURES_DIR
    figures.mkdir(exist_ok=True)
    notes = results_dir / NOTES_FILE
    sections = [
        _header(quick, preset),
        _targets(results, preset, anchors),
        render_notes(notes.read_text(), results_dir, strict=False).strip() if notes.is_file() else "",
        _single_table(results, "test", "Single occurrence, in-distribution test split"),
        _single_table(results, "test_long", "Single occurrence, long clips (10-60 s, test_long split)"),
        _window_table(results),
        _probe_table(results),
        _open_vocabulary_section(results, TABLES[preset].open_vocabulary),
        _all_table(results),
        _matching_table(results),
        _align_table(results, anchors),
        _anchor_table(results, anchors, preset),
        _diarization_table(results),
        _events_f1_table(results),
        _presence_table(results),
        _fit_table(results),
        _robustness_section(results),
        _copies_table(results),
        _event_class_table(results),
        *(_grouped_table(results, *breakdown) for breakdown in BREAKDOWNS),
        _length_table(results),
        _figures(results, figures),
        _coverage(results, quick, preset),
    ]
    path = results_dir / "report.md"
    path.write_text("\n\n".join(s for s in sections if s) + "\n")
    return path


# How each backbone preset's audio side came to be (the report's header, the model cards).
AUDIO_SIDE = {
    "tiny-scratch": "trained from scratch, its audio tower included",
    "tiny": "hearing through OpenAI's Whisper tiny.en encoder (MIT), frozen and not stored in checkpoints: it is "
            "rebuilt from the pinned package `backbone/audio_tower.json` names (docs/pretrained-tower.md)",
}


def _header(quick: bool, preset: str) -> str:
    return (
        f"# framestamp reproduction{' (quick)' if quick else ''}: preset `{preset}`\n\n"
        f"Tiny Qwen2.5-Omni thinker {AUDIO_SIDE.get(preset, f'of preset {preset}')}, on the built-in corpus; "
        "frame heads (IHP, binary, joint) against the token baseline with the same data, budget and "
        "auxiliary identity loss. Every number below was measured by `framestamp reproduce"
        f"{' --quick' if quick else ''}` on this machine: {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU only.\n\n"
        "Accuracy = fraction of questions answered within the tolerance; a missing or unparseable "
        "answer counts as wrong with an absolute error of half the clip."
    )


def _targets(results: dict, preset: str, anchors: Anchors = Anchors()) -> str:
    """Measured value, target and verdict of each target of ``preset`` whose experiment was evaluated."""
    from .targets import measured_targets

    rows = [f"| {row.what}: `{row.experiment}` | {row.shown_value()} | {row.shown_goal()} | {row.verdict()} |"
            for row in measured_targets(results, preset, anchors)]  # fmt: skip
    if not rows:
        return ""
    return "## Targets\n\n| target | measured | target | met |\n|---|---|---|---|\n" + "\n".join(rows)


def _label(results: dict, name: str) -> str:
    """An experiment as the report's tables name it: with "(open corpus)" when its clips (hence its
    test split) are those of a corpus with open words, not the grammar's alone."""
    from ..corpus.config import SIZES

    corpus = run_corpus(results[name])
    return f"{name} (open corpus)" if corpus in SIZES and SIZES[corpus].open_word_share > 0 else name


def _single_table(results: dict, split: str, title: str) -> str:
    header = "| experiment | n | " + " | ".join(f"acc {t * 1000:g} ms" for t in TOLERANCES_S)
    header += (" | chance 50 ms | MAE (s) | MAE capped (s) | median AE (s) | parse errors | ms / query |\n|---|---|"
               + "---|" * (len(TOLERANCES_S) + 6))
    rows = []
    for name, record in evaluated(results, split, "one"):
        m = record["metrics"]
        accuracy = " | ".join(f"{m['accuracy'][str(t)]:.1%}" for t in TOLERANCES_S)
        chance = _percent(m.get("chance_accuracy", {}).get("0.05"))
        rows.append(f"| {_label(results, name)} | {record['n']} | {accuracy} | {chance} | {m['mae_s']:.3g} | {_number(m.get('mae_capped_s'), '{:.3g}')} | "
                    f"{m['median_ae_s']:.3f} | {m['parse_error_rate']:.1%} | "
                    f"{record['median_seconds_per_query'] * 1000:.1f} |")  # fmt: skip
    text = ("MAE: the paper's mean absolute error (a parsed answer counts at its value, an unparseable one at half "
            "the clip); *MAE capped*: the same with each error capped at the clip's length, so one absurd "
            "parsed number cannot dominate it (\"-\": evaluated before it was recorded); *chance*: what a time "
            "guessed uniformly over each clip would score within 50 ms (``evaluate.metrics.uniform_guess_accuracy``).")
    return f"## {title}\n\n{text}\n\n{header}\n" + "\n".join(rows) if rows else ""


def _all_table(results: dict) -> str:
    rows = []
    for name, record in evaluated(results, "test", "all"):
        m = record["metrics"]
        onset = record.get("onset_f_measure_50ms", {}).get("f1")
        rows.append(
            f"| {name} | {record['n']} | " + " | ".join(f"{m['accuracy'][str(t)]:.1%}" for t in HEADLINE_TOLERANCES)
            + f" | {m['f1']['0.05']:.1%} | {m['count_accuracy']:.1%} | {m['count_mae']:.2f} | "
            + (f"{onset:.1%}" if onset is not None else "n/a") + f" | {record['median_seconds_per_query'] * 1000:.1f} |"
        )  # fmt: skip
    if not rows:
        return ""
    header = ("| experiment | clips | " + " | ".join(f"acc {t * 1000:g} ms" for t in HEADLINE_TOLERANCES)
              + " | F1 50 ms | count exact | count MAE | onset F (mir_eval, 50 ms) | ms / query |\n|---|---|"
              + "---|" * (len(HEADLINE_TOLERANCES) + 5))  # fmt: skip
    return ("## All word starts (Hungarian L1 matching, count inferred from the intensity)\n\n"
            "Accuracy = matched pairs within tolerance / max(#predicted, #reference), pooled over clips. "
            "Onset F: mir_eval's onset F-measure (`mir_eval.onset`), each reference matched to at most one "
            "prediction within 50 ms (maximum matching), counts pooled over clips.\n\n"
            + header + "\n" + "\n".join(rows))  # fmt: skip


ALIGN_SPLITS = (("test", None, "test"), ("test", "default", "grammar-only test"), ("test_unseen", None, "new words"))


def _align_table(results: dict, anchors: Anchors) -> str:
    """Every word start with each clip's transcript given, beside the count-inferred answers and
    forced alignment on the same clips."""
    rows, shown = [], []
    for name, summary in results.items():
        cells = []
        for split, corpus, _ in ALIGN_SPLITS:
            given, inferred = (evaluation(summary, split, mode, corpus=corpus) for mode in ("align", "all"))
            cells.append(f"{_within(given, '0.05')} / {_within(inferred, '0.05')}" if given else "")
        if any(cells):
            rows.append(f"| {_label(results, name)} | " + " | ".join(cells) + " |")
            shown.append(name)
    if not rows:
        return ""
    own = run_corpus(results[shown[0]])
    anchored = [_anchor_accuracy_cell(anchors.on(split, corpus or own)) for split, corpus, _ in ALIGN_SPLITS]
    rows.append("| pocketsphinx, given the transcript | " + " | ".join(anchored) + " |")
    return _section(
        "Aligning a transcript (`framestamp align --transcript`)", rows,
        ("system", *(f"{label}: given / inferred" for *_, label in ALIGN_SPLITS)),
        "The every-word questions of the table above with each clip's words given in order, as `align "
        "--transcript` passes them: a frame model places exactly these words, each from the intensity's peaks "
        "and its length in letters (`decoders_transcript`: one spurious or missed peak no longer shifts the "
        "labels of the words after it); a token baseline's answer is labelled in order. *Given*: within 50 ms "
        "under Hungarian L1 matching (for a frame model, each word against its own start), with the clips asked; "
        "*inferred*: the same clips with the count inferred (the table above). Forced alignment answers the "
        "same clips of each column (`python -m framestamp.evaluate.anchor --split S --corpus C`); a blank cell: "
        "not run on them.",
    )  # fmt: skip


def _anchor_accuracy_cell(anchor: dict | None) -> str:
    return "" if anchor is None else _within(aligned_record(anchor), "0.05")


MATCHING_NAMES = {
    "hungarian_l1": "Hungarian L1", "accuracy_optimal": "accuracy-optimal", "greedy": "greedy",
    "positional": "positional",
}  # fmt: skip


def _matching_table(results: dict) -> str:
    """The all-events questions under each matching of predictions to references; a row per
    experiment and matching ("-" where the stored evaluation predates the other matchings)."""
    rows = []
    for name, record in evaluated(results, "test", "all"):
        by_matching = record.get("by_matching", {"hungarian_l1": record["metrics"]})
        for matching in MATCHINGS:
            m = by_matching.get(matching)
            if m is None:
                cells = ["-"] * (len(HEADLINE_TOLERANCES) + 2)
            else:
                cells = [_percent(m["accuracy"].get(str(t))) for t in HEADLINE_TOLERANCES]
                cells += [_percent(m["f1"].get("0.05")), _number(m.get("mae_s"), "{:.3f}")]
            rows.append(f"| {name} | {MATCHING_NAMES[matching]} | {record['n']} | " + " | ".join(cells) + " |")
    return _section(
        "All word starts by matching", rows,
        ("experiment", "matching", "clips", *(f"acc {t * 1000:g} ms" for t in HEADLINE_TOLERANCES), "F1 50 ms",
         "MAE (s)"),
        "The same predictions, paired one-to-one with the reference word starts four ways "
        "(`evaluate.metrics.all_events_metrics`): *Hungarian L1* minimises the total |error| (the table above); "
        "*accuracy-optimal* pairs as many as possible within each tolerance, separately per tolerance (an upper "
        "bound on the others; its MAE is the Hungarian pairs'); *greedy* repeatedly pairs the closest remaining "
        "prediction and reference; *positional* pairs the i-th earliest prediction with the i-th earliest "
        "reference (a missed or extra word shifts every later pair). Accuracy and F1 as above, MAE over the "
        "matched pairs.",
    )  # fmt: skip


# (group of the anchor JSON, how the table names it, the anchor's variants shown for it)
ANCHOR_GROUPS = (
    ("synthetic", "synthetic voices (synthesizer's times)", ("aligner", "no_snap", "default_beams")),
    ("all", "every clip", ("aligner",)),
    ("synthetic_aligned", "synthetic voices (truth from pocketsphinx)", ("aligner",)),
    ("recorded", "recorded voice (truth from pocketsphinx)", ("aligner",)),
)
ANCHOR_VARIANTS = {
    "aligner": "pocketsphinx, given the transcript", "no_snap": "pocketsphinx, no onset snap",
    "default_beams": "pocketsphinx, default beams only",
}  # fmt: skip


def _anchor_table(results: dict, anchors: Anchors, preset: str = SHIPPED_PRESET) -> str:
    """The all-word-starts questions answered by pocketsphinx forced alignment given the transcript
    (``evaluate.anchor``), beside the frame model ``words-all`` on the same clips: overall from its
    stored record, by group from the anchor's run of the same model (shown only while that run's
    overall scores equal the stored record's), on its own test clips."""
    name = {e.ships_as: e.name for e in PLANS[preset] if e.ships_as}["words-all"]
    anchor = anchors.on("test", run_corpus(results[name]) if name in results else None)
    if not anchor:
        return ""
    stored = evaluation(results[name], "test", "all") if name in results else None
    frame_groups = anchor.get("frame_model", {}).get("groups", {})
    current = stored is not None and frame_groups.get("all", {}).get("metrics") == stored["metrics"]
    rows = []
    for group, speech, variants in ANCHOR_GROUPS:
        if group not in anchor["groups"]:
            continue
        frame = stored if group == "all" else (frame_groups.get(group) if current else None)
        if frame is not None:
            rows.append(_anchor_row(speech, f"`{name}` (frame model, count inferred)", frame))
        for variant in variants:
            record = anchor["groups"][group]["variants"][variant]
            rows.append(_anchor_row(speech, ANCHOR_VARIANTS[variant], record))
    timing, alignment = anchor["timing"], anchor["alignment"]
    synthetic = anchor["groups"].get("synthetic", {}).get("variants", {}).get("aligner", {})
    answered = synthetic.get("accuracy_answered_clips", {}).get("0.05")
    answered = "" if answered is None else (
        f" On the synthetic clips it did align ({synthetic['n'] - synthetic['n_failed']} of {synthetic['n']}), "
        f"{answered:.1%} of the word starts are within 50 ms.")  # fmt: skip
    cost = f"**{timing['cpu_ms_per_audio_s']:.1f} CPU ms per second of audio** on one thread, retries included"
    if stored is not None:
        cost += f" (`{name}`: {stored['median_seconds_per_query'] * 1000:.1f} ms wall per question in batches of 8)"
    return _section(
        "Anchor: forced alignment given the transcript", rows,
        ("speech", "answered by", "clips", "words", *(f"acc {t * 1000:g} ms" for t in (0.02, 0.05, 0.1)),
         "count exact", "onset F (mir_eval, 50 ms)"),
        f"The all-word-starts questions of the table above ({anchor['n_clips']} clips of the words test split of "
        f"`{anchor['corpus']}`), answered by pocketsphinx {anchor['pocketsphinx']} forced alignment **given the "
        "transcript** (`python -m framestamp.evaluate.anchor`): the corpus's aligner (`corpus.align`), told each "
        "clip's words in order, places them; the frame model hears the audio only and infers the count. Scored "
        "alike: accuracy under Hungarian L1 matching (pooled, over max(#predicted, #reference)), count exact, "
        "mir_eval's onset F at 50 ms. Where the search fails with the default beams the clip is aligned again "
        f"with the widest beams ({alignment['retried_ok']} clips); {alignment['failed']} clips still fail and get "
        f"no starts (every word missed; *default beams only* leaves every first-pass failure unanswered).{answered} *No onset "
        "snap*: pocketsphinx's own 10 ms starts, without moving a start after silence to the energy onset. "
        "**The recorded voice's truth was made by this aligner** (each prompt aligned alone, onsets snapped the "
        "same way), as was Flite's where the corpus has it, so there the anchor is right by construction and its "
        "rows measure nothing but aligning whole clips instead of pieces; only the synthetic voices timed by their "
        "synthesizer (espeak-ng's word events, Festival's utterance structure) test it. "
        + (f"Frame-model rows by speech: `{name}` run again on the same clips by the anchor (its overall scores "
           "equal the stored record's). " if current else
           f"No frame-model rows by speech: the anchor's run of `{name}` is missing or does not match its stored "
           "record (other clips, or another checkpoint: run the anchor again). ")
        + f"Cost: {cost}.",
    )  # fmt: skip


def _anchor_row(speech: str, system: str, record: dict) -> str:
    m = record["metrics"]
    onset = record.get("onset_f_measure_50ms", {}).get("f1")
    words = m.get("n_reference", "-")
    cells = [_percent(m["accuracy"].get(str(t))) for t in (0.02, 0.05, 0.1)]
    return (f"| {speech} | {system} | {record['n']} | {words} | " + " | ".join(cells)
            + f" | {_percent(m.get('count_accuracy'))} | {_percent(onset)} |")  # fmt: skip


def _diarization_table(results: dict) -> str:
    """DER, JER and speaker count of ``Stamper.diarize``'s turns (``reproduce.run.evaluate_diarization``)."""
    rows, settings = [], None
    for name, record in evaluated(results, "test", "diarize", STANDARD_EVALUATIONS):
        m = record["metrics"]
        der, every, count = m["der"], m["der_every_turn"], m["speaker_count"]
        onsets, onsets_jer = m.get("der_onsets", {}), m.get("jer_onsets", {})
        settings = settings or record
        rows.append(
            f"| {name} | {record['n']} | {_percent(onsets.get('der'))} | {_percent(onsets_jer.get('jer'))} | "
            f"{_percent(der.get('der'))} | {_percent(der.get('missed_rate'))} | "
            f"{_percent(der.get('false_alarm_rate'))} | {_percent(der.get('confusion_rate'))} | "
            f"{_percent(m['jer'].get('jer'))} | {_percent(every.get('der'))} | {_percent(count['accuracy'])} | "
            f"{_number(count['mae'], '{:.2f}')} | {_ends_trained(results[name])} | "
            f"{_number(record['median_seconds_per_clip'], '{:.2f}')} |"
        )  # fmt: skip
    if settings is None:
        return ""
    collar = settings["collar_each_side_s"]
    overlap = ("**overlapping speech left out** (`skip_overlap=True`)" if settings["skip_overlap"]
               else "**overlapping speech scored** (`skip_overlap=False`)")  # fmt: skip
    return _section(
        f"Speaker turns from `diarize`: DER and JER (test split, collar ±{collar:g} s)", rows,
        ("experiment", "clips", "DER from onsets", "JER from onsets", "DER", "missed", "false alarm", "confusion",
         "JER", "DER, every turn",
         "speakers exact", "speaker count MAE", "trained on ends", "s / clip"),
        "*DER / JER from onsets*: speaker onsets turned into turns, each speaker `diarize` found from its onset "
        "to the end of the clip, against each speaker from their first onset to the end of their last turn, so "
        "the onsets and the number of speakers decide it (no end is decoded). The other columns: "
        "turns from the user-facing API, `Stamper.diarize(audio, ends=True)`: one span per speaker found, "
        "from their onset to the end of their first turn (a span without an end lasts to the end of the clip). "
        "**Reference: each speaker's first turn** (speaker k = the k-th to start), the thing `diarize` answers; "
        "*DER, every turn* scores the same spans against every turn of every speaker, where a later turn is "
        "missed unless a span happens to run over it. pyannote.metrics `DiarizationErrorRate` and "
        "`JaccardErrorRate`, speaker labels mapped one-to-one per clip (Hungarian), scored over [0, clip end) "
        f"with a collar of ±{collar:g} s around each reference boundary (pyannote `collar={2 * collar:g}`), "
        f"{overlap}. "
        "DER = (missed + false alarm + confusion) / reference speech, each summed over clips; JER = mean over "
        "every reference speaker of every clip of 1 - Jaccard index with its paired hypothesis speaker (1 when "
        "unpaired). *Speakers exact*: clips where `diarize` found exactly as many speakers as the clip has. "
        "*Trained on ends*: whether the model was trained on \"when does ... stop\" questions; if not, its ends "
        "are answers to questions it never saw. Token baselines are not in this table: the API cannot run them yet.",
    )  # fmt: skip


def _events_f1_table(results: dict) -> str:
    """Event-based F1 of ``Stamper.events``'s events (``reproduce.run.evaluate_events_f1``)."""
    rows, settings = [], None
    for name, record in evaluated(results, "test", "events_f1", STANDARD_EVALUATIONS):
        m = record["metrics"]
        onset, both = m["onset"], m["onset_offset"]
        settings = settings or record
        rows.append(
            f"| {name} | {record['n']} | {_percent(onset.get('f1'))} | {_percent(onset.get('precision'))} | "
            f"{_percent(onset.get('recall'))} | {_number(onset.get('error_rate'), '{:.2f}')} | "
            f"{_percent(onset.get('f1_class_average'))} | {_percent(both.get('f1'))} | "
            f"{onset.get('n_reference', '-')} / {onset.get('n_estimated', '-')} | {_ends_trained(results[name])} | "
            f"{_number(record['median_seconds_per_clip'], '{:.2f}')} |"
        )  # fmt: skip
    if settings is None:
        return ""
    collar, share, cap = settings["t_collar_s"], settings["offset_share"], settings["max_occurrences"]
    return _section(
        f"Sound events from `events`: event-based F1 (sed_eval, test split, collar {collar * 1000:g} ms)", rows,
        ("experiment", "clips", "F1 onset", "precision", "recall", "error rate", "class-average F1",
         "F1 onset + offset", "events (reference / found)", "trained on ends", "s / clip"),
        f"Events from the user-facing API, `Stamper.events(audio, classes, ends=True)`, asked about every event "
        f"class of the test split (the first {cap} occurrences of each, each kept while present), against **every** "
        f"reference event of the clip. sed_eval `EventBasedMetrics`: an event is found when its class matches "
        f"and its onset is within {collar * 1000:g} ms of a reference onset (`t_collar`), each reference matched "
        f"at most once; *onset + offset* also needs the offset within max({collar * 1000:g} ms, {share:.0%} of the "
        "reference event's length). Counts pooled over clips (micro F1); error rate = (substitutions + deletions "
        "+ insertions) / reference events; class-average F1 = mean over classes with reference events. "
        "*Trained on ends* as above. Token baselines are not in this table: the API cannot run them yet.",
    )  # fmt: skip


def _ends_trained(summary: dict) -> str:
    """Whether an experiment's training asked about ends ("?" when its config does not say)."""
    boundaries = summary.get("config", {}).get("data", {}).get("boundaries")
    return "?" if boundaries is None else ("yes" if "end" in boundaries else "no")


def _percent(value) -> str:
    """A fraction as a percentage; "-" when missing or not a number (NaN, or a library was missing)."""
    return "-" if not isinstance(value, (int, float)) or value != value else f"{value:.1%}"


def _number(value, form: str) -> str:
    return "-" if not isinstance(value, (int, float)) or value != value else form.format(value)


def _presence_table(results: dict) -> str:
    rows = []
    for name, record in evaluated(results, "test", "presence"):
        m = record["metrics"]
        rows.append(f"| {_label(results, name)} | {m['n_present']} / {m['n_absent']} | {m['threshold']:.3g} | {m['present_recall']:.1%} | "
                    f"{m['absent_recall']:.1%} | {m['balanced_accuracy']:.1%} | {m['auc']:.3f} |")  # fmt: skip
    return _section(
        "Not there: present and absent questions (test split)", rows,
        ("experiment", "present / absent", "threshold", "present called present", "absent called absent",
         "balanced accuracy", "AUC"),
        "Each clip gets the single-occurrence question of the table above and one whose answer is not in the "
        "clip (the occurrence after the last, a word or class of another clip, the (n+1)-th speaker). Frame "
        "models call an answer present when P(N >= 1) = 1 - exp(-Lambda) reaches the threshold: 0.5, or for "
        "models trained with absent questions the one with the best balanced accuracy on 200 dev questions "
        "(stored in the checkpoint); the token baseline when its answer holds a time. AUC: the chance that a "
        "present question gets a higher P(present) than an absent one (0.5 = no idea; the token baseline's "
        "is from its yes/no answers).",
    )  # fmt: skip


def _fit_table(results: dict) -> str:
    rows = []
    for name, record in evaluated(results, "train", "one"):
        test = evaluation(results[name], "test", "one")
        if test is None:
            continue
        cells = [f"{r['metrics']['accuracy'][str(t)]:.1%}" for t in (0.05, 0.1) for r in (record, test)]
        rows.append(f"| {_label(results, name)} | {record['n']} / {test['n']} | " + " | ".join(cells) + " |")
    return _section(
        "Fit: training clips against test clips", rows,
        ("experiment", "questions (train / test)", "train, 50 ms", "test, 50 ms", "train, 100 ms", "test, 100 ms"),
        "The same kind of single-occurrence questions, asked about clips the model trained on and about "
        "held-out ones. Close values: the model underfits (held back by what it learns at all, not by "
        "memorising); a large gap: it does not carry what it learned over to new recordings, voices or sentences.",
    )  # fmt: skip


def _event_class_table(results: dict) -> str:
    """Test accuracy within 50 ms by event class, beside how many recordings of it training had."""
    from ..corpus.pools import held_out_families
    from ..corpus.sources import event_classes

    columns = {name: record["by_subject"] for name, record in evaluated(results, "test", "one") if "by_subject" in record}
    if not columns:
        return ""
    families = {name: len(held_out_families(recordings)["train"]) for name, recordings in event_classes().items()}
    classes = sorted({c for by_class in columns.values() for c in by_class}, key=lambda c: (families.get(c, 0), c))
    rows = []
    for event_class in classes:
        cells = [_cell(by, event_class, 0.05) for by in columns.values()]
        rows.append(f"| {event_class} | {families.get(event_class, '?')} | " + " | ".join(cells) + " |")
    return _section(
        "Events by class: accuracy within 50 ms (questions)", rows, ("event class", "recordings in train", *columns),
        "Each class's dev and test recordings are ones training never heard (`held_out_effects`); "
        "*recordings in train* counts the distinct recordings (families of variants) training had of it.",
    )  # fmt: skip


def _grouped_table(results: dict, grouping: str, tolerance_s: float, title: str, first_column: str, text: str) -> str:
    """Test accuracy within ``tolerance_s`` broken down by ``grouping``: a column per experiment
    evaluated with that breakdown, a row per group (in the order the evaluation stored them)."""
    key = f"by_{grouping}"
    columns = {_label(results, name): record[key] for name, record in evaluated(results, "test", "one") if key in record}
    groups = dict.fromkeys(group for by in columns.values() for group in by)
    rows = [
        f"| {group} | " + " | ".join(_cell(by, group, tolerance_s) for by in columns.values()) + " |" for group in groups
    ]
    return _section(title, rows, (first_column, *columns), text)


def _cell(by_group: dict, group: str, tolerance_s: float) -> str:
    """"accuracy (questions)" of one group, empty where the experiment had no question in it."""
    if group not in by_group:
        return ""
    return f"{by_group[group]['accuracy'][str(tolerance_s)]:.0%} ({by_group[group]['n']})"


def _section(title: str, rows: list[str], columns: tuple[str, ...], text: str) -> str:
    """A report section: heading, explanation and a markdown table; empty without rows."""
    if not rows:
        return ""
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    return f"## {title}\n\n{text}\n\n{header}\n" + "\n".join(rows)


def _open_vocabulary_section(results: dict, pairs: tuple[tuple[str, str], ...]) -> str:
    """Seen and new words (docs/open-vocabulary.md): each open-vocabulary model beside its closed
    namesake of the same budget (every word start of clips of new words: :func:`_align_table`)."""
    rows = []
    for open_name, closed_name in pairs:
        if open_name not in results:
            continue
        summary, closed = results[open_name], results.get(closed_name, {})
        own, unseen = evaluation(summary, "test", "one"), evaluation(summary, "test_unseen", "one")
        closed_questions = evaluation(summary, "test", "one", corpus="default")
        closed_own = evaluation(closed, "test", "one")
        presence = evaluation(summary, "test_unseen", "presence")
        cells = [
            _cell(own.get("by_word", {}), "seen word", 0.05) if own else "",
            _cell(unseen.get("by_word", {}), "new word", 0.05) if unseen else "",
            _cell(unseen.get("by_word", {}), "seen word", 0.05) if unseen else "",
            _accuracy_cell(closed_questions), _accuracy_cell(closed_own),
            _percent(presence["metrics"].get("balanced_accuracy")) if presence else "",
        ]
        rows.append(f"| {open_name} | {closed_name} | " + " | ".join(cells) + " |")
    return _section(
        "Open vocabulary: words heard in training and words never heard (accuracy within 50 ms, questions)", rows,
        ("open model", "closed namesake", "seen words, test", "new words, test_unseen", "seen words, test_unseen",
         "closed test questions", "closed namesake, same questions", "present/absent, test_unseen"),
        "The open models read any text in Whisper's BPE pieces and trained their second stage on the open corpus, "
        "where some of its frequent English words are never said in training (docs/open-vocabulary.md). *New "
        "words*: questions about those; *closed test questions*: the closed models' own test split (grammar words "
        "only), answered by the open model, beside its closed namesake, which continued the same first stage "
        "for the same steps; *present/absent*: balanced accuracy on present and absent questions about new words.",
    )  # fmt: skip


def _accuracy_cell(record: dict | None) -> str:
    """"accuracy within 50 ms (questions)" of an evaluation record, empty without one."""
    return "" if record is None else f"{record['metrics']['accuracy']['0.05']:.0%} ({record['n']})"


def _probe_table(results: dict) -> str:
    """The match probe read as an answer beside each model's own answer to the same test questions."""
    rows = []
    for name, record in evaluated(results, "test", "probe"):
        m, own = record["metrics"], evaluation(results[name], "test", "one")
        answer = "-" if own is None else _percent(own["metrics"]["accuracy"]["0.05"])
        rows.append(f"| {_label(results, name)} | {record['n']} | {_percent(m['answered'])} | {_percent(m['accuracy']['0.05'])} | "
                    f"{_percent(m['accuracy']['0.1'])} | {answer} | {_percent(m['chance_accuracy']['0.05'])} |")  # fmt: skip
    return _section(
        "Where the hidden states place the word (the match probe read as an answer)", rows,
        ("experiment", "questions", "answered", "probe, 50 ms", "probe, 100 ms", "model's answer, 50 ms",
         "chance, 50 ms"),
        "Models trained with the match loss carry a linear probe on the hidden states their head reads, trained to "
        "say at every audio token whether the asked word is heard there; it never answers. Read as an answer "
        "(`evaluate.probe_reading`: the middle of the first token of the k-th run of tokens it calls heard; a "
        "token spans 40 ms) on the same single questions as the test table, it shows whether a model's thinker "
        "found the word: for a token baseline answering near chance, a probe that finds it means only writing "
        "the time as text failed.",
    )  # fmt: skip


def _robustness_section(results: dict) -> str:
    """The checks on input unlike the test clips (``evaluate.robustness``), a table each."""
    nonspeech, presence, late = [], [], []
    for name, record in evaluated(results, "test", "nonspeech"):
        groups = {**record.get("by_kind", {}), **record.get("by_length", {})}
        cells = ", ".join(f"{group} {_percent(g['false_present'])} of {g['n']}" for group, g in groups.items())
        nonspeech.append(f"| {name} | {record['n']} | {record['total_audio_s'] / 3600:.1f} h | "
                         f"{_percent(record['metrics']['false_present'])} | {cells} |")  # fmt: skip
    for name, record in evaluated(results, "test", "presence_long"):
        short, long = record["short"], record["long"]
        presence.append(f"| {name} | {_percent(short['balanced_accuracy'])} | {_percent(long['balanced_accuracy'])} | "
                        f"{_percent(long['present_recall'])} | {_percent(long['absent_recall'])} | "
                        f"{record['metrics']['balanced_accuracy_drop'] * 100:.1f} |")  # fmt: skip
    for name, record in evaluated(results, "test", "late_words"):
        early, later = record["by_group"].values()
        late.append(f"| {name} | {early['n']} / {later['n']} | {_percent(early['accuracy']['0.05'])} | "
                    f"{_percent(later['accuracy']['0.05'])} | {record['metrics']['accuracy_drop_late'] * 100:.1f} |")
    parts = [
        _section("Robustness: non-speech", nonspeech,
                 ("experiment", "clips", "audio", "called present", "by kind and length"),
                 "A question about a word on silence, tones, noise and music of 10 s to 60 min (`evaluate.robustness`): "
                 "any \"present\" is wrong; decided with the model's calibrated threshold, through the windowed path "
                 "users run."),
        _section("Robustness: presence on long recordings", presence,
                 ("experiment", "balanced acc., test clips", "balanced acc., 20-120 s", "present called present",
                  "absent called absent", "points lost"),
                 "Present and absent questions about recordings of 20-120 s (test clips joined end to end) against "
                 "the same kind of questions on the test clips."),
        _section("Robustness: words first said late in 2-minute recordings", late,
                 ("experiment", "questions (early / late)", "first 30 s, 50 ms", "after 30 s, 50 ms", "points lost"),
                 "Single questions on 2-minute recordings about words first said in the first 30 s and after it."),
    ]  # fmt: skip
    return "\n\n".join(p for p in parts if p)


COPY_COLUMNS = (("8khz", "as 8 kHz files"), ("8bit", "as 8-bit files"), ("late", "after a 1-30 s lead-in"))


def _copies_table(results: dict) -> str:
    """The single questions on the test clips as built and on their copies as users' recordings
    often are (``evaluate.copies``), beside each other."""
    rows = []
    for name, summary in results.items():
        copies = [evaluation(summary, "test", "one", copy=copy) for copy, _ in COPY_COLUMNS]
        clean = evaluation(summary, "test", "one")
        if clean is None or not any(copies):
            continue
        tolerance = "0.1" if summary.get("config", {}).get("data", {}).get("subset") == "speakers" else "0.05"
        cells = [_within(record, tolerance) for record in (clean, *copies)]
        rows.append(f"| {_label(results, name)} | {float(tolerance) * 1000:g} ms | " + " | ".join(cells) + " |")
    return _section(
        "Robustness: the test clips as users' recordings often are", rows,
        ("experiment", "within", "as built", *(label for _, label in COPY_COLUMNS)),
        "The single questions of the test table again on copies of the same clips (`evaluate.copies`): saved as "
        "WAV files at 8 kHz or with 8-bit samples and read back as a user's file is, or after a lead-in of 1-30 s "
        "of silence or low noise drawn for each clip (every answer moves by it; the first word or speaker then "
        "starts anywhere in the first 30 s).",
    )  # fmt: skip


def _within(record: dict | None, tolerance: str) -> str:
    """"accuracy within ``tolerance`` (questions)" of an evaluation record, "-" without one."""
    return "-" if record is None else f"{_percent(record['metrics']['accuracy'][tolerance])} ({record['n']})"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _window_table(results: dict) -> str:
    """The window each model was given for long audio, and what every candidate scored on dev."""
    chosen = {name: summary["window_choice"] for name, summary in results.items() if "window_choice" in summary}
    if not chosen:
        return ""
    candidates = sorted({float(c) for choice in chosen.values() for c in choice["candidates"]}, reverse=True)
    rows = []
    for name, choice in chosen.items():
        cells = []
        for window_s in candidates:
            value = choice["candidates"].get(f"{window_s:g}")
            cells.append("-" if value is None else f"{value['accuracy']:.1%} ({_share(value['short'])} / {_share(value['long'])})")
        rows.append(f"| {_label(results, name)} | {choice['window_s']:g} s | " + " | ".join(cells) + " |")
    n = next(iter(chosen.values()))
    header = ("| experiment | chosen | " + " | ".join(f"{w:g} s" for w in candidates) + " |\n|---|---|"
              + "---|" * len(candidates))  # fmt: skip
    return ("## Windows for long audio\n\n"
            "Each model answers audio longer than one window a window at a time (docs/inference.md). Its window was "
            f"chosen before its other evaluations on {n['n']} dev questions, {n['n_long']} of them on 20-60 s "
            "recordings joined from dev clips: accuracy within 50 ms (dev clips / joined recordings); the "
            "test_long and robustness numbers above and below are answered with the chosen one.\n\n"
            + header + "\n" + "\n".join(rows))  # fmt: skip


def _length_table(results: dict) -> str:
    rows, buckets = [], []
    for name, summary in results.items():
        for record in summary["evaluations"]:
            for label in record.get("by_time", {}):
                if label not in buckets:
                    buckets.append(label)
    buckets.sort(key=lambda b: float(b.split("-")[0].rstrip("+ s")))
    for name, summary in results.items():
        merged = {}
        for record in summary["evaluations"]:
            merged.update(record.get("by_time", {}))
        if merged:
            cells = [f"{merged[b]['accuracy']['0.05']:.0%} ({merged[b]['n']})" if b in merged else "" for b in buckets]
            rows.append(f"| {_label(results, name)} | " + " | ".join(cells) + " |")
    if not rows:
        return ""
    header = "| experiment | " + " | ".join(buckets) + " |\n|---|" + "---|" * len(buckets)
    return ("## Length generalisation: accuracy within 50 ms by target time (questions in bucket)\n\n"
            "Each model's training clip lengths are under *Training budget and coverage*. The `*-short` "
            "models trained only on clips of at most 5 s, so every target later than 5 s (and every clip "
            "longer than 5 s) is beyond what they saw: their rows are the length-generalisation study.\n\n" + header + "\n" + "\n".join(rows))  # fmt: skip


def _figures(results: dict, figures: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(figures skipped: matplotlib is not installed)"
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, record in evaluated(results, "test", "one"):
        acc = [record["metrics"]["accuracy"][str(t)] for t in TOLERANCES_S]
        ax.plot([t * 1000 for t in TOLERANCES_S], acc, marker="o", label=name,
                linestyle="--" if is_baseline(results[name]) else "-")  # fmt: skip
    ax.set(xscale="log", xlabel="tolerance (ms)", ylabel="accuracy", ylim=(0, 1), title="Accuracy by tolerance")
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figures / "accuracy_by_tolerance.png", dpi=120)
    plt.close(fig)
    _time_figure(results, figures, plt)
    lines = ["## Figures", "", "![accuracy by tolerance](figures/accuracy_by_tolerance.png)"]
    extras = ["accuracy_by_target_time.png"] + sorted(p.name for p in figures.glob("intensity_*.png"))
    for extra in extras:
        if (figures / extra).exists():
            lines.append(f"![{extra[:-4].replace('_', ' ')}](figures/{extra})")
    return "\n".join(lines)


def _time_figure(results: dict, figures: Path, plt) -> None:
    """Accuracy within 50 ms by target-time bucket, frame models solid, token models dashed."""
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for name, summary in results.items():
        merged = {}
        for record in summary["evaluations"]:
            merged.update(record.get("by_time", {}))
        if not merged:
            continue
        labels = sorted(merged, key=lambda b: float(b.split("-")[0].rstrip("+ s")))
        ax.plot(labels, [merged[b]["accuracy"]["0.05"] for b in labels], marker="o", label=name,
                linestyle="--" if is_baseline(results[name]) else "-")  # fmt: skip
        drawn = True
    if drawn:
        ax.set(xlabel="target time", ylabel="accuracy within 50 ms", ylim=(0, 1), title="Accuracy by target time")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(figures / "accuracy_by_target_time.png", dpi=120)
    plt.close(fig)


def plot_intensity_examples(model, items, path: Path, n_examples: int = 3) -> None:
    """Waveform and frame intensity of a few clips, with reference and predicted times marked (the
    scores the engine answers from: windowed and stitched as the model's window says)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..inference.engine import Engine, InferenceConfig

    engine = Engine(model, InferenceConfig(progress=False))
    fig, axes = plt.subplots(n_examples, 1, figsize=(9, 2.4 * n_examples), squeeze=False)
    for ax, item in zip(axes[:, 0], items[:n_examples]):
        scores = engine.scores(item.clip.audio, [item.query.question]).scores[0]
        intensity = model.head_kind.curve(scores)
        times = np.arange(len(intensity)) / model.frame_rate_hz
        audio_t = np.arange(len(item.clip.audio)) / item.clip.sample_rate
        peak = float(np.abs(item.clip.audio).max()) or 1.0
        ax.plot(audio_t, item.clip.audio / peak * intensity.max() * 0.5, color="0.8", linewidth=0.5)
        ax.plot(times, intensity, color="C0", linewidth=1)
        for t in item.query.targets_s:
            ax.axvline(t, color="C2", linestyle="--", linewidth=1)
        predicted = model.head_kind.decode(scores, model.frame_rate_hz, item.query.mode)
        for t in predicted.times_s:
            ax.axvline(t, color="C3", linewidth=1)
        ax.set_title(item.query.question, fontsize=8)
        ax.set_ylabel("intensity")
    axes[-1, 0].set_xlabel("time (s); green dashed = reference, red = decoded")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_data_text(config: dict) -> str:
    """Which clips a run trained on and what it started from, in words."""
    cap = config["data"].get("max_duration_s")
    text = f"clips up to {cap:g} s" if cap else "clips of every length"
    if config["data"].get("max_target_s"):
        text += f", targets before {config['data']['max_target_s']:g} s"
    if config["data"].get("absent_share"):
        text += f", {config['data']['absent_share']:.0%} of questions about something absent"
    if config["data"].get("max_position_gap_s"):
        text += f", a gap of up to {config['data']['max_position_gap_s']:g} s of positions between question and audio"
    if config["data"].get("joined_share"):
        text += f", {config['data']['joined_share']:.0%} of clips followed by another (targets in the first)"
    if config["data"].get("crop_words"):
        low, high = config["data"]["crop_words"]
        text += f", each cut to a run of {low}-{high} consecutive words"
    if config["data"].get("nonspeech_share"):
        text += f", {config['data']['nonspeech_share']:.0%} non-speech clips"
    if config["data"].get("augment_share"):
        text += f", {config['data']['augment_share']:.0%} of clips augmented (docs/augmentation.md)"
    if config.get("init_from"):
        text += f"; continues `{Path(config['init_from']).parent.name}`"
    elif config["model"].get("backbone_path"):
        text += f"; backbone of `{Path(config['model']['backbone_path']).parent.parent.name}`"
    return text


def _coverage(results: dict, quick: bool, preset: str = SHIPPED_PRESET) -> str:
    """The training each evaluated experiment had, and the experiments of the plan with no metrics."""
    from .plan import plan

    lines = []
    for name, summary in results.items():
        train = summary.get("train", {})
        config = summary["config"]
        if train:
            lines.append(f"- `{name}`: {int(train.get('step', 0))} of {config['max_steps']} steps "
                         f"(last session {train.get('minutes', 0):.1f} min, cap {config['max_minutes']} min); "
                         + training_data_text(config))
    missing = [e.name for e in plan(quick, preset=preset) if e.name not in results]
    text = "## Training budget and coverage\n\n" + "\n".join(lines)
    if missing:
        text += ("\n\nNot evaluated (not trained yet, or trained only as another run's start), so not in "
                 "the tables: " + ", ".join(f"`{m}`" for m in missing) + ". Targets of these experiments are not measured.")
    return text
