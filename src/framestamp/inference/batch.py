"""A manifest answered into a file by one process or many (``accelerate launch``), resumably.

Every process reads back what earlier runs answered (the output and every shard file beside it),
takes its share of the rest, appends its answers to its own shard file (:mod:`.shards`), and
waits for the others; the main process then writes the output in manifest order. A rerun of the
same command, with any number of processes, answers only what is missing. Questions about one
audio file go to the same process, one after another, so the file is read once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .api import Stamper
from .manifest import Answerer, read_manifest
from .outputs import check_output_path
from .shards import ShardWriter, merge, read_answers, shard_path, shard_paths


@dataclass(frozen=True)
class Processes:
    """This process's place among the processes answering one manifest."""

    rank: int = 0
    world_size: int = 1
    device: str | None = None
    wait_for_everyone: Callable[[], None] = field(default=lambda: None, repr=False)


def current_processes() -> Processes:
    """The processes ``accelerate launch`` (or ``torchrun``) started, else this one alone (without
    touching accelerate or torch.distributed)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Processes()
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # else CPU processes would each think they are alone
    return Processes(state.process_index, state.num_processes, str(state.device), state.wait_for_everyone)


@dataclass
class BatchReport:
    """What a run did. ``answers``: every line's answer in manifest order (main process only);
    ``missing``: lines still without one; ``n_answered``, ``audio_s``, ``wall_s``: this run's
    items (all processes), the seconds of distinct audio they asked about, and the wall time."""

    answers: list[dict]
    missing: list[int]
    n_answered: int
    audio_s: float
    wall_s: float

    def throughput(self) -> str:
        """One line: items per second and hours of audio per hour of wall time."""
        wall_s = max(self.wall_s, 1e-9)
        return (f"answered {self.n_answered} items ({self.audio_s / 3600:.3g} h of audio) in {self.wall_s:.1f} s: "
                f"{self.n_answered / wall_s:.2f} items/s, {self.audio_s / wall_s:.1f} h of audio per hour")


def answer_manifest(
    manifest: str | Path, output: str | Path, load_model: Callable[[str], Stamper], checkpoint: str | None = None,
    processes: Processes = Processes(), progress: bool | None = None, command: str = "locate",
) -> BatchReport | None:  # fmt: skip
    """Answer the manifest's lines not yet answered in ``output`` (or its shard files) into it.

    Args:
        manifest, load_model, checkpoint, command: as in :func:`.manifest.answer_lines`.
        output: the JSON Lines answers, one per manifest line, in manifest order.
        processes: this process's rank among those sharing the work (:func:`current_processes`).
        progress: a progress bar and a throughput line on stderr; None = only on a terminal.

    Returns:
        the report on the main process (rank 0); None on the others.
    """
    output, lines = Path(output), list(read_manifest(manifest))
    check_output_path(output)
    done = _answered_before(output, dict(lines))
    todo = [(n, text) for n, text in lines if n not in done]
    mine = share(todo, processes.rank, processes.world_size)
    processes.wait_for_everyone()  # all have read what was answered before any appends
    started = time.perf_counter()
    answerer = Answerer(Path(manifest).parent, load_model, checkpoint, command)
    show = sys.stderr.isatty() if progress is None else progress
    with ShardWriter(shard_path(output, processes.rank, processes.world_size)) as shard:
        for number, text in _bar(mine, show and processes.rank == 0, processes.world_size):
            shard.append(answerer.answer(number, text))
    processes.wait_for_everyone()
    if processes.rank != 0:
        return None
    answers = _answered_before(output, dict(lines))
    missing = merge(output, [n for n, _ in lines], answers)
    audio_s = {a.get("audio"): a["duration_s"] for n, _ in todo if "duration_s" in (a := answers.get(n, {}))}
    report = BatchReport([answers[n] for n, _ in lines if n in answers], missing, len(todo) - len(missing),
                         sum(audio_s.values()), time.perf_counter() - started)  # fmt: skip
    if show:
        print(report.throughput(), file=sys.stderr)
    return report


def share(items: list[tuple[int, str]], rank: int, world_size: int) -> list[tuple[int, str]]:
    """Process ``rank``'s items: those of each audio file together, each file's items given to
    the process with the fewest so far (the same split in every process)."""
    by_audio: dict[str, list[tuple[int, str]]] = {}
    for number, text in items:
        by_audio.setdefault(_audio_of(text), []).append((number, text))
    loads, mine = [0] * world_size, []
    for group in by_audio.values():
        owner = loads.index(min(loads))
        loads[owner] += len(group)
        mine += group if owner == rank else []
    return mine


def _answered_before(output: Path, texts: dict[int, str]) -> dict[int, dict]:
    """The answers already in ``output`` and its shard files that answer the manifest's lines as
    they are now (an answer about other audio than its line names is stale and redone)."""
    found: dict[int, dict] = {}
    for path in [output, *shard_paths(output)]:
        found |= read_answers(path)[0]
    return {n: a for n, a in found.items() if n in texts and _same_audio(a, texts[n])}


def _same_audio(answer: dict, text: str) -> bool:
    """Whether ``answer`` may answer the manifest line ``text`` (answers to lines that could not be
    parsed carry no audio)."""
    return "audio" not in answer or answer["audio"] == _audio_field(text)


def _audio_field(text: str) -> str | None:
    try:
        item = json.loads(text)
    except ValueError:
        return None
    return item.get("audio") if isinstance(item, dict) and isinstance(item.get("audio"), str) else None


def _audio_of(text: str) -> str:
    """The key that keeps a file's questions together (a line without audio stands alone)."""
    return _audio_field(text) or f"\0{text}"


def _bar(items: list, enabled: bool, world_size: int):
    """``items``, through a tqdm bar on stderr when ``enabled``."""
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety, not a reason to fail
        return items
    desc = "answering" if world_size == 1 else f"answering (process 1 of {world_size})"
    return tqdm(items, unit="item", desc=desc, file=sys.stderr)
