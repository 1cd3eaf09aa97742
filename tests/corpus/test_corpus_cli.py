"""``framestamp corpus build``: a thin layer over ``build_corpus``."""

from __future__ import annotations

from typer.testing import CliRunner

from framestamp.cli import app


def test_build_prints_the_cached_build(tiny_corpus):
    result = CliRunner().invoke(app, ["corpus", "build", "--size", "tiny", "--seed", "0", "--out", str(tiny_corpus.parent)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(tiny_corpus)


def test_missing_package_is_one_line_and_exit_code_1(tmp_path, monkeypatch):
    from framestamp.corpus import sources

    monkeypatch.setattr(sources, "EN_TRANSCRIPTS", ("asterisk-core-sounds-en", tmp_path / "missing.txt.gz"))
    sources.english_prompts.cache_clear()
    try:
        result = CliRunner().invoke(app, ["corpus", "build", "--size", "tiny", "--out", str(tmp_path)])
    finally:
        sources.english_prompts.cache_clear()
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "asterisk-core-sounds-en" in lines[0] and "apt-get install" in lines[0]
