"""Real speech: pocketsphinx alignments of the asterisk prompts the corpus uses."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from framestamp.corpus.align import _decoder, align_prompt, align_prompts
from framestamp.corpus.sources import english_prompts, normalise_transcript, read_prompt


def _used_prompt_names(root):
    names = set()
    for f in (root / "words" / "data").glob("*.parquet"):
        for row in pq.read_table(f, columns=["provenance"]).to_pylist():
            for path in json.loads(row["provenance"]).get("files", ()):
                names.add(path.split("/", 1)[1][: -len(".wav")])
    return names


def test_alignments_exist_for_every_prompt_the_corpus_uses(tiny_corpus):
    used = _used_prompt_names(tiny_corpus)
    assert used, "the tiny corpus should contain real speech"
    prompts = [p for p in english_prompts() if p.name in used]
    assert len(prompts) == len(used)
    alignments = align_prompts(prompts)
    for prompt in prompts:
        words = alignments[prompt.name]
        assert words, prompt.name
        assert [w for w, _, _ in words] == normalise_transcript(prompt.text)
        duration_s = len(read_prompt(prompt)) / 16000
        assert all(0 <= s < e <= duration_s for _, s, e in words)
        assert all(a[2] <= b[1] + 1e-9 for a, b in zip(words, words[1:]))


def test_cached_alignments_match_a_fresh_pocketsphinx_run():
    prompts = [p for p in english_prompts() if p.name in ("agent-pass", "vm-mailboxfull", "conf-getchannel", "digits/11")]
    cached = align_prompts(prompts)
    decoder = _decoder()
    for prompt in prompts:
        assert cached[prompt.name] and align_prompt(decoder, prompt) == cached[prompt.name]


def test_transcripts_are_normalised_for_alignment():
    assert normalise_transcript("Press 1 to accept, or 12 for more.") == ["press", "one", "to", "accept", "or", "twelve", "for", "more"]
    assert normalise_transcript("Call-Forward on Busy.") == ["call", "forward", "on", "busy"]
    assert normalise_transcript("[ascending tones]") is None
    assert normalise_transcript("(10 seconds of silence)") is None
