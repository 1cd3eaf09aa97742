"""The answers of a manifest run as JSON Lines files that survive a crash.

Each process appends its answers to its own shard file beside the output
(``answers.jsonl.shard-0-of-2``), one ``write`` and one flush per line. A process killed in the
middle of a line leaves a last line without its newline (or not valid JSON): reading back stops
before it, and the shard's owner cuts it off before appending, so it is answered again and never
merged. :func:`merge` writes the output in manifest order, atomically, then removes the shards.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Iterable

from .outputs import OutputError, atomic_path


def shard_path(output: Path, rank: int, world_size: int) -> Path:
    """The shard file of process ``rank`` of ``world_size`` writing to ``output``."""
    return output.with_name(f"{output.name}.shard-{rank}-of-{world_size}")


def shard_paths(output: Path) -> list[Path]:
    """Every shard file beside ``output``, whatever number of processes wrote it."""
    return sorted(Path(p) for p in glob.glob(glob.escape(str(output)) + ".shard-*-of-*"))


def read_answers(path: Path) -> tuple[dict[int, dict], int]:
    """The complete answers in a JSON Lines file, by manifest line number, and the length in bytes
    of the part of the file that holds them (a half-written last line is not part of it)."""
    answers: dict[int, dict] = {}
    complete_bytes = 0
    if not path.is_file():
        return answers, 0
    with path.open("rb") as handle:
        for raw in handle:
            answer = _parsed(raw)
            if answer is None:
                break
            answers[answer["line"]] = answer
            complete_bytes += len(raw)
    return answers, complete_bytes


def _parsed(raw: bytes) -> dict | None:
    """One finished answer line, or None for a half-written or foreign one."""
    if not raw.endswith(b"\n"):
        return None
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) and type(answer.get("line")) is int else None


class ShardWriter:
    """Appends answers to one shard file, each line written whole and flushed before the next."""

    def __init__(self, path: Path):
        _, complete_bytes = read_answers(path)
        try:
            self.handle = path.open("ab")
        except OSError as error:
            raise OutputError(f"cannot write {path}: {error.strerror}") from None
        self.handle.truncate(complete_bytes)  # a half-written last line is redone, never merged

    def append(self, answer: dict) -> None:
        self.handle.write((json.dumps(answer) + "\n").encode("utf-8"))
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge(output: Path, line_numbers: Iterable[int], answers: dict[int, dict]) -> list[int]:
    """Write the answers of ``line_numbers`` to ``output`` in that order (atomically) and remove
    the shard files; when some have no answer, write nothing and return their line numbers."""
    line_numbers = list(line_numbers)
    missing = [n for n in line_numbers if n not in answers]
    if missing:
        return missing
    with atomic_path(output) as temporary, temporary.open("w", encoding="utf-8") as handle:
        for number in line_numbers:
            handle.write(json.dumps(answers[number]) + "\n")
    for path in shard_paths(output):
        path.unlink()
    return []
