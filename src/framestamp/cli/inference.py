"""``framestamp locate | align | diarize | events``: thin typer layers over :mod:`framestamp.inference.api`.

Each command loads the audio and the checkpoint, calls one ``Stamper`` method, and renders the
answer (:mod:`framestamp.inference.outputs`). User errors print one ``error:`` line on stderr and exit 1;
caveats print one ``warning:`` line each.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import FramestampError, collecting_warnings, one_line
from ..inference.defaults import MAX_OCCURRENCES, MAX_SPEAKERS, class_names
from .app import app


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    rttm = "rttm"
    textgrid = "textgrid"
    tsv = "tsv"
    srt = "srt"
    vtt = "vtt"


AudioArg = Annotated[Optional[Path], typer.Argument(help="audio file (WAV, FLAC, OGG, MP3, ...; any rate, mono or "
                                                         "stereo; omit with --manifest)")]
ManifestOpt = Annotated[Optional[Path], typer.Option(help="JSON Lines, one file (and what to ask) per line; answers as "
                                                          "JSON Lines (docs/inference.md)")]
CheckpointOpt = Annotated[
    Optional[str], typer.Option(help="checkpoint directory or shipped name (default: the command's shipped one)")
]
FormatOpt = Annotated[Optional[OutputFormat], typer.Option("--format", "-f", help="output format (default: table)")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="write here (atomically) instead of stdout")]
PlotOpt = Annotated[Optional[Path], typer.Option(help="save a plot of audio, intensities and times (.png/.pdf/.svg)")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
DeviceOpt = Annotated[Optional[str], typer.Option(help="torch device (default: cuda when available, else cpu)")]
WindowOpt = Annotated[Optional[float], typer.Option(
    help="window length for long audio, in seconds (default: the model's own, chosen on held-out long "
         "recordings; else 30)")]
OverlapOpt = Annotated[Optional[float], typer.Option(
    help="overlap of consecutive windows, in seconds (default: a fifth of the window, at most 5)")]
ThresholdOpt = Annotated[float | None, typer.Option(
    help="report 'not present' when P(N>=1) = 1 - exp(-Lambda) is below this (default: the checkpoint's "
         "calibrated threshold, else 0.5)")]
EndsOpt = Annotated[bool, typer.Option("--ends/--no-ends", help="also decode end times (one more question per window; needs a checkpoint trained on end questions, the shipped ones are trained on starts)")]


@contextmanager
def reporting():
    """Print ``FramestampError`` as ``error: ...`` (exit 1) and framestamp warnings as ``warning: ...``.

    Yields a function that returns the warnings caught so far (for the JSON answer's ``warnings``).
    """
    with collecting_warnings() as noted:
        try:
            yield noted
        except FramestampError as error:
            typer.echo(f"error: {one_line(error)}", err=True)
            # SystemExit, not typer.Exit: cli.main runs click with standalone_mode=False, where
            # typer.Exit only becomes a return value and the exit status would be 0
            raise SystemExit(1) from None
        finally:
            for message in noted():
                typer.echo(f"warning: {message}", err=True)


def _load(
    checkpoint: str, device, window_s: float | None, overlap_s: float | None, quiet: bool, threshold: float | None = None
):
    from ..inference.api import InferenceConfig, load
    from ..errors import ConfigError
    from ..inference.windows import WindowConfig

    try:
        windows = WindowConfig(window_s=window_s, overlap_s=overlap_s)
        config = InferenceConfig(windows=windows, presence_threshold=threshold, progress=False if quiet else None)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return load(checkpoint, device=device, config=config)


def _emit(result, fmt: Optional[OutputFormat], output, plot, waveform, audio: Path, notes: list[str]) -> None:
    """Render ``result`` (JSON: with the warnings ``notes``), print or write it, and draw the plot when asked."""
    from ..inference.outputs import render_answer, write_atomic

    text = render_answer(result, (fmt or OutputFormat.table).value, audio, notes)
    if plot is not None:
        from ..inference.plot import plot_answer

        plot_answer(result, waveform, plot)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(output, text)


@app.command()
def locate(
    audio: AudioArg = None,
    word: Annotated[Optional[str], typer.Option(help="the word asked about")] = None,
    occurrence: Annotated[int, typer.Option(min=1, help="which occurrence of the word or event (1 = first)")] = 1,
    end: Annotated[bool, typer.Option("--end", help="ask when it ends instead of when it starts")] = False,
    event: Annotated[Optional[str], typer.Option(help="the sound event class asked about")] = None,
    speaker: Annotated[Optional[int], typer.Option(min=1, help="the k-th speaker to start speaking")] = None,
    question: Annotated[Optional[str], typer.Option(help="a free question, asked as written")] = None,
    every: Annotated[bool, typer.Option("--all", help="the question asks for every occurrence")] = False,
    manifest: ManifestOpt = None,
    presence_threshold: ThresholdOpt = None,
    checkpoint: CheckpointOpt = None, format: FormatOpt = None, output: OutputOpt = None, plot: PlotOpt = None,
    quiet: QuietOpt = False, device: DeviceOpt = None, window_s: WindowOpt = None, overlap_s: OverlapOpt = None,
) -> None:  # fmt: skip
    """When is a word said, an event heard, a speaker's onset? Prints time(s), Lambda and presence."""
    with reporting() as noted:
        given = {"AUDIO": audio, "--word": word, "--event": event, "--speaker": speaker, "--question": question,
                 "--plot": plot}  # fmt: skip
        loader = _loader(device, window_s, overlap_s, presence_threshold)
        if _from_manifest("locate", manifest, given, format, checkpoint, output, quiet, loader):
            return
        audio = _audio(audio)
        from ..inference.api import build_question
        from ..audio import load_audio
        from ..inference.outputs import check_format

        build_question(word, occurrence, end, event, speaker, question)  # bad questions fail before loading
        check_format("locate", (format or OutputFormat.table).value)
        waveform = load_audio(audio)
        kind = "events" if event is not None else "speakers" if speaker is not None else "words"
        model = _load(checkpoint or kind, device, window_s, overlap_s, quiet, presence_threshold)
        result = model.locate(waveform, word=word, occurrence=occurrence, end=end, event=event, speaker=speaker,
                              question=question, every=every)  # fmt: skip
        _emit(result, format, output, plot, waveform, audio, noted())


def _loader(device, window_s: float | None, overlap_s: float | None, threshold: float | None = None):
    """``load(name, device)`` for a manifest's items: this process's device unless one was given."""
    return lambda name, on: _load(name, device or on, window_s, overlap_s, True, threshold)


def _from_manifest(
    command: str, manifest: Optional[Path], given: dict, format: Optional[OutputFormat], checkpoint: Optional[str],
    output: Optional[Path], quiet: bool, load,
) -> bool:  # fmt: skip
    """Answer ``manifest`` for ``command`` when one is given (True); ``given``: the command line's own
    question options (a manifest takes its questions from the file: any that is set is an error)."""
    if manifest is None:
        return False
    asked = [name for name, value in given.items() if value not in (None, False)]
    if asked or format not in (None, OutputFormat.json):
        dropped = ", ".join(asked) or "--format"
        raise FramestampError(f"--manifest takes its questions from the file; drop {dropped}")
    _run_manifest(manifest, checkpoint, output, quiet, load, command)
    return True


def _audio(audio: Optional[Path]) -> Path:
    if audio is None:
        raise FramestampError("give an AUDIO file (or --manifest FILE)")
    return audio


def _run_manifest(
    manifest: Path, checkpoint: Optional[str], output: Optional[Path], quiet: bool, load, command: str = "locate"
) -> None:  # fmt: skip
    """Answer a manifest of ``command`` as JSON Lines: streamed to stdout (flushed per line), or into
    ``output`` through shard files that a rerun resumes from, by one process or by all that
    ``accelerate launch`` started. ``load(name, device)`` loads a checkpoint (``device``: this
    process's)."""
    from ..inference.batch import answer_manifest, current_processes

    processes = current_processes()
    if output is None:
        if processes.world_size > 1:
            raise FramestampError("--manifest across several processes needs --output FILE (each writes a shard)")
        answers = _stream_manifest(manifest, lambda name: load(name, None), checkpoint, command)
    else:
        report = answer_manifest(manifest, output, lambda name: load(name, processes.device), checkpoint,
                                 processes, progress=False if quiet else None, command=command)  # fmt: skip
        if report is None:  # not the main process: it merges and reports
            return
        if report.missing:
            raise FramestampError(f"{len(report.missing)} manifest items have no answer yet (a process stopped "
                                  "early); run the same command again to answer them")  # fmt: skip
        answers = report.answers
    failed = sum("error" in answer for answer in answers)
    if failed:
        raise FramestampError(f"{failed} of {len(answers)} manifest items failed (see their \"error\" fields)")


def _stream_manifest(manifest: Path, load, checkpoint: Optional[str], command: str) -> list[dict]:
    """Print each answer as one JSON line as soon as it is made (click's echo flushes every call)."""
    from ..inference.manifest import answer_lines

    answers = []
    for answer in answer_lines(manifest, load, checkpoint, command):
        typer.echo(json.dumps(answer))
        answers.append(answer)
    return answers


@app.command()
def align(
    audio: AudioArg = None,
    transcript: Annotated[Optional[str], typer.Option(help="the words spoken, in order: each is placed by the "
                                                           "intensity and its length")] = None,
    transcript_file: Annotated[Optional[Path], typer.Option(help="read the transcript from this UTF-8 text file "
                                                                 "(instead of --transcript)")] = None,
    ends: EndsOpt = False, manifest: ManifestOpt = None,
    checkpoint: CheckpointOpt = None, format: FormatOpt = None, output: OutputOpt = None, plot: PlotOpt = None,
    quiet: QuietOpt = False, device: DeviceOpt = None, window_s: WindowOpt = None, overlap_s: OverlapOpt = None,
) -> None:  # fmt: skip
    """Start (and end) of every word, from one pass of the 'each word' questions."""
    with reporting() as noted:
        given = {"AUDIO": audio, "--transcript": transcript, "--transcript-file": transcript_file, "--ends": ends,
                 "--plot": plot}  # fmt: skip
        if _from_manifest("align", manifest, given, format, checkpoint, output, quiet,
                          _loader(device, window_s, overlap_s)):  # fmt: skip
            return
        transcript = _transcript(transcript, transcript_file)
        waveform = _prepare("words", format, _audio(audio))
        model = _load(checkpoint or "words-all", device, window_s, overlap_s, quiet)
        result = model.align(waveform, transcript=transcript, ends=ends)
        _emit(result, format, output, plot, waveform, audio, noted())


@app.command()
def diarize(
    audio: AudioArg = None,
    ends: EndsOpt = False,
    max_speakers: Annotated[int, typer.Option(min=1, help="speakers asked about when the model answers "
                                                          "'k-th speaker' questions only")] = MAX_SPEAKERS,
    manifest: ManifestOpt = None,
    checkpoint: CheckpointOpt = None, format: FormatOpt = None, output: OutputOpt = None, plot: PlotOpt = None,
    quiet: QuietOpt = False, device: DeviceOpt = None, window_s: WindowOpt = None, overlap_s: OverlapOpt = None,
) -> None:  # fmt: skip
    """Onset of every speaker (and the end of their first turn)."""
    with reporting() as noted:
        given = {"AUDIO": audio, "--ends": ends, "--max-speakers": max_speakers != MAX_SPEAKERS, "--plot": plot}
        if _from_manifest("diarize", manifest, given, format, checkpoint, output, quiet,
                          _loader(device, window_s, overlap_s)):  # fmt: skip
            return
        waveform = _prepare("speakers", format, _audio(audio))
        model = _load(checkpoint or "speakers", device, window_s, overlap_s, quiet)
        result = model.diarize(waveform, ends=ends, max_speakers=max_speakers)
        _emit(result, format, output, plot, waveform, audio, noted())


@app.command()
def events(
    audio: AudioArg = None,
    classes: Annotated[Optional[list[str]], typer.Option(help="event classes (repeat, or comma-separate)")] = None,
    max_occurrences: Annotated[
        int, typer.Option(min=1, help="with --classes: occurrences asked per class")] = MAX_OCCURRENCES,
    ends: EndsOpt = False, manifest: ManifestOpt = None,
    checkpoint: CheckpointOpt = None, format: FormatOpt = None, output: OutputOpt = None, plot: PlotOpt = None,
    quiet: QuietOpt = False, device: DeviceOpt = None, window_s: WindowOpt = None, overlap_s: OverlapOpt = None,
) -> None:  # fmt: skip
    """Sound event onsets and offsets, unlabelled or per class."""
    with reporting() as noted:
        given = {"AUDIO": audio, "--classes": classes, "--max-occurrences": max_occurrences != MAX_OCCURRENCES,
                 "--ends": ends, "--plot": plot}  # fmt: skip
        if _from_manifest("events", manifest, given, format, checkpoint, output, quiet,
                          _loader(device, window_s, overlap_s)):  # fmt: skip
            return
        names = class_names(classes or ())
        if classes and not names:
            raise FramestampError("--classes is empty")
        waveform = _prepare("events", format, _audio(audio))
        model = _load(checkpoint or "events", device, window_s, overlap_s, quiet)
        result = model.events(waveform, classes=names or None, ends=ends, max_occurrences=max_occurrences)
        _emit(result, format, output, plot, waveform, audio, noted())


def _transcript(text: str | None, path: Path | None) -> str | None:
    """The transcript given inline or in a file (one of them)."""
    from ..errors import ConfigError

    if path is None:
        return text
    if text is not None:
        raise ConfigError("give the transcript with --transcript or --transcript-file, not both")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ConfigError(f"cannot read the transcript file {path}: {reason}") from None


def _prepare(kind: str, fmt: Optional[OutputFormat], audio: Path):
    """Check the format, then read the audio (both before the slow model load)."""
    from ..audio import load_audio
    from ..inference.outputs import check_format

    check_format(kind, (fmt or OutputFormat.table).value)
    return load_audio(audio)

