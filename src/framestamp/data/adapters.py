"""Turn one dataset row (hub schema or built-in corpus schema) into a ``Clip``.

One adapter per subset reads both the paper's hub datasets and the built-in corpus, because the
corpus only adds fields to the hub schemas (see ``framestamp.data.schemas``):
- words (``gilkeyio/librispeech-alignments``): one segment per aligned word, label lowercased.
  MFA's empty words (silences) are dropped; ``<unk>`` words are kept with label ``<unk>``
  (``UNKNOWN_WORD``): they are real word boundaries, but tasks must not ask about them by name.
- speakers (``enyoukai/libricount-timings``): with ``turns`` (built-in corpus), one segment per
  turn. Without them (the hub data has only onsets), one segment per component from
  ``first_word_start_sec`` to ``first_word_start_sec + utterance_length_sec``: the start is
  exact, the end an approximation (it overshoots by the utterance's own leading silence and
  ignores pauses and the crop to the mixture length, which we clamp to).
- events (``enyoukai/audioset-humans-reprocessed``): one segment per event.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from framestamp.audio import decode_audio
from framestamp.data.examples import SAMPLE_RATE_HZ, UNKNOWN_WORD, Clip, Segment


def _provenance(row: dict, context: dict) -> dict:
    """Where we read the row from, plus the row's own provenance (built-in corpus)."""
    own = row.get("provenance")
    parsed = json.loads(own) if isinstance(own, str) and own else {}
    return {**context, **parsed}


def words_clip(row: dict, context: dict, fallback_id: str) -> Clip:
    """Clip of the words subset from a row with ``audio``, ``words`` and ``transcript``."""
    audio = decode_audio(row["audio"])
    provenance = _provenance(row, context)
    speaker = provenance.get("speaker")  # built-in corpus: one voice per clip
    segments, n_silences = [], 0
    for word in row["words"]:
        label = (word["word"] or "").strip().lower()
        if not label:
            n_silences += 1
            continue
        segments.append(Segment(label, word["start"], word["end"], speaker))
    if n_silences:
        provenance["dropped_empty_words"] = n_silences
    n_unknown = sum(s.label == UNKNOWN_WORD for s in segments)
    if n_unknown:
        provenance["unknown_words"] = n_unknown
    for key in ("sex", "subset"):
        if key in row:
            provenance[f"hub_{key}"] = row[key]
    return Clip(
        id=str(row.get("id") or fallback_id),
        audio=audio,
        subset="words",
        segments=tuple(segments),
        transcript=row.get("transcript") or "",
        provenance=provenance,
    )


def speakers_clip(row: dict, context: dict, fallback_id: str) -> Clip:
    """Clip of the speakers subset: turns as segments (or onsets + utterance length, see above)."""
    audio = decode_audio(row["audio"])
    duration_s = len(audio) / SAMPLE_RATE_HZ
    provenance = _provenance(row, context)
    turns = row.get("turns")
    if turns:
        segments = [Segment(t["speaker_id"], t["start"], t["end"], t["speaker_id"]) for t in turns]
    else:
        segments = []
        for c in row["components"]:
            start = float(c["first_word_start_sec"])
            end = min(start + float(c["utterance_length_sec"]), duration_s)
            segments.append(Segment(c["speaker_id"], start, max(end, start), c["speaker_id"]))
        provenance["turns"] = "approximated: first_word_start_sec + utterance_length_sec"
    provenance["k"] = int(row["k"])
    return Clip(
        id=str(row.get("id") or fallback_id),
        audio=audio,
        subset="speakers",
        segments=tuple(segments),
        provenance=provenance,
    )


def events_clip(row: dict, context: dict, fallback_id: str) -> Clip:
    """Clip of the events subset: one segment per event, label = event name."""
    audio = decode_audio(row["audio"])
    segments = [Segment(e["event_name"], e["start"], e["end"]) for e in row["events"]]
    clip_id = row.get("id") or row.get("video_id") or fallback_id
    return Clip(
        id=str(clip_id),
        audio=audio,
        subset="events",
        segments=tuple(segments),
        provenance=_provenance(row, context),
    )


ADAPTERS: dict[str, Callable[[dict, dict, str], Clip]] = {
    "words": words_clip,
    "speakers": speakers_clip,
    "events": events_clip,
}


def row_to_clip(subset: str, row: dict[str, Any], context: dict[str, Any], fallback_id: str = "") -> Clip:
    """Convert one row of a subset's dataset into a Clip.

    Args:
        subset: "words", "speakers" or "events".
        row: the row as ``datasets`` returns it with ``Audio(decode=False)``.
        context: where the row comes from (``dataset``, ``split``, ``row``), merged into the
            provenance.
        fallback_id: the clip id for datasets without an id column (LibriCount).

    Returns:
        The Clip, audio at 16 kHz mono float32.
    """
    if subset not in ADAPTERS:
        raise ValueError(f"unknown subset {subset!r}; expected one of {sorted(ADAPTERS)}")
    return ADAPTERS[subset](row, context, fallback_id)
