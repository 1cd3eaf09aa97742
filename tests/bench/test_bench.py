"""``framestamp bench`` on the tiny corpus with an untrained tiny model, one timed run of each method."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from framestamp.bench import BenchConfig, run_bench
from framestamp.bench.inputs import ClipStream, build_batches, clip_with_words, concatenate, fit_duration
from framestamp.bench.methods import (
    ModelPair, StepCounter, check_fixed_steps, generation_length, token_plan,
)  # fmt: skip
from framestamp.data.examples import Clip, Segment
from framestamp.errors import ConfigError
from framestamp.evaluate.metrics import bucket_by_event_count

CORPUS = "builtin:tiny:0"
EVENTS = [2, 7, 12]  # buckets 1-5, 6-10, 11-15
DURATIONS_S = [1.5, 3.0]
DECODERS = ("posterior_mode", "iterative_mode")
METHODS = {"prepare", "forward", "token", *(f"{kind}_{d}" for kind in ("frame", "end_to_end") for d in DECODERS)}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(corpus=CORPUS, backbone="tiny", events=EVENTS, durations_s=DURATIONS_S, batch_size=2,
                         repeats=1, frame_repeats=1, warmup=1, threads=1, long_align_s=20.0,
                         output_dir=str(out))  # fmt: skip
    return config, run_bench(config)


@pytest.fixture(scope="module")
def pool():
    from framestamp.data import load_subset

    clips = load_subset(CORPUS, "words", "test")
    return [clips[i] for i in range(len(clips))]


@pytest.mark.slow
def test_json_holds_every_measurement_and_the_environment(smoke):
    config, result = smoke
    data = json.loads(result.json_path.read_text())
    assert set(data) >= {"config", "environment", "models", "measurements", "targets", "total_wall_s"}
    env = data["environment"]
    for key in ("cpu_model", "torch_threads", "torch", "transformers", "git", "load_average_start"):
        assert key in env
    assert env["torch_threads"] == 1 and env["threads_fixed"]
    assert len(data["measurements"]) == (len(EVENTS) + len(DURATIONS_S)) * 2
    for record in data["measurements"]:
        assert set(record["methods"]) == METHODS
        for stats in record["methods"].values():
            assert len(stats["batch_s"]) == 1 and stats["batch"]["n"] == 1 and stats["batch"]["median"] > 0
            assert stats["query"]["median"] == pytest.approx(stats["batch"]["median"] / 2)
        median = {name: stats["batch"]["median"] for name, stats in record["methods"].items()}
        for decoder in ("posterior_mode", "iterative_mode"):  # ratios of the medians recorded beside them
            frame = median[f"frame_{decoder}"]
            assert record["ratios"][f"speedup_{decoder}"]["of_medians"] == pytest.approx(median["token"] / frame)
            assert record["ratios"][f"overhead_{decoder}"]["of_medians"] == pytest.approx(frame / median["forward"] - 1)
            whole = median[f"end_to_end_{decoder}"]  # files in, answers out
            assert record["ratios"][f"end_to_end_{decoder}"]["of_medians"] == pytest.approx(whole / median["forward"])
            stages = record["end_to_end_stages"][decoder]
            assert set(stages) == {"read", "features", "forward", "head", "decoder", "output", "other"}
            assert all(stages[name] > 0 for name in ("read", "features", "forward", "head", "decoder", "output"))
            # one timed run: its stages and what falls between them add up to its time
            assert sum(stages.values()) == pytest.approx(whole, rel=1e-6)
    assert data["models"]["all"]["token_trained"] is False
    assert data["models"]["all"]["frame_window_s"] == data["models"]["all"]["token_window_s"] == 30.0  # untrained
    assert set(data["targets"]) == {"speedup", "overhead", "end_to_end", "long_align", "runtime"}
    long = data["long_align"]  # 20 s through `framestamp align` in a child process
    assert 20.0 <= long["audio_s"] < 40.0 and long["words"] > 10 and long["n_predicted"] == long["words"]
    assert long["wall_s"] > 0 and 100 < long["peak_memory_mib"] < 8192 and 0.0 <= long["accuracy_50ms"] <= 1.0
    assert data["targets"]["long_align"]["met"] is None  # not an hour: the target is not judged
    assert set(data["targets"]["end_to_end"]) == {f"{m}/{d}" for m in ("one", "all") for d in DECODERS}


@pytest.mark.slow
def test_fixed_length_generation_ran_exactly_the_reference_token_count(smoke, pool):
    config, result = smoke
    from framestamp.backbones.tiny_scratch import ScratchTinyBackbone

    tokenizer = ScratchTinyBackbone.create().tokenizer
    records = {(m["sweep"], m["target"], m["mode"]): m for m in result.data["measurements"]}
    for sweep, targets in (("events", EVENTS), ("duration", DURATIONS_S)):
        for batch in build_batches(pool, sweep, targets, ["one", "all"], 2, config.seed):
            plan = records[(sweep, batch.target, batch.mode)]["token"]
            reference = [len(tokenizer(q.answer_text(), add_special_tokens=False)["input_ids"]) + 1
                         for q in batch.queries]  # fmt: skip
            assert plan["regime"] == "fixed"
            assert plan["reference_tokens"] == reference
            assert plan["min_new_tokens"] == plan["max_new_tokens"] == max(reference)
            assert plan["steps"] == [max(reference)]  # one timed run (the warm-up is shorter, not counted)


@pytest.mark.slow
def test_buckets_and_durations_are_filled_exactly(smoke):
    _, result = smoke
    for record in result.data["measurements"]:
        if record["sweep"] == "events":
            assert record["clip_events"] == [record["target"]] * 2
            assert record["bucket"] == bucket_by_event_count(record["target"])
        else:
            assert record["durations_s"] == [record["target"]] * 2
        expected = record["clip_events"] if record["mode"] == "all" else [1, 1]
        assert record["answer_events"] == expected
    buckets = {m["bucket"] for m in result.data["measurements"] if m["sweep"] == "events"}
    assert buckets == {"1-5", "6-10", "11-15"}


@pytest.mark.slow
def test_markdown_and_plot_are_written(smoke):
    _, result = smoke
    text = result.markdown_path.read_text()
    assert "fixed length" in text and "## By number of events" in text and "## By audio length" in text
    assert "(windows of 30 s)" in text  # each model's window for long audio
    assert "## One long recording through `framestamp align`" in text
    assert "## End to end: WAV files in" in text and text.count("| 3 | all | posterior mode |") == 1
    assert text.count("| 12 | all |") == 1
    assert result.plot_path is not None and result.plot_path.read_bytes()[:4] == b"\x89PNG"


# ----- inputs keep their exact truth ----------------------------------------------------------
def _clip(name: str, n_samples: int, starts_s: list[float]) -> Clip:
    segments = tuple(Segment(f"{name}{i}", s, s + 0.1) for i, s in enumerate(starts_s))
    return Clip(name, np.ones(n_samples, np.float32), "words", segments)


def test_concatenation_shifts_segments_by_the_audio_before_them():
    joined = concatenate([_clip("a", 16_000, [0.2, 0.5]), _clip("b", 8_000, [0.1])], "ab")
    assert len(joined.audio) == 24_000
    assert [s.start_s for s in joined.segments] == pytest.approx([0.2, 0.5, 1.1])


def test_exact_word_counts_and_durations(pool):
    stream = ClipStream(pool, seed=(0, 0))
    for n in (1, 5, 17):
        assert len(clip_with_words(stream, n, "x").segments) == n
    clip = fit_duration(_clip("a", 32_000, [0.2, 0.95, 1.5]), 1.0)  # the word at 0.95 s straddles 1 s
    assert len(clip.audio) == 16_000 and [s.start_s for s in clip.segments] == [0.2]
    assert np.all(clip.audio[int(0.95 * 16_000):] == 0)  # the cut word is silenced, not half kept



def test_inputs_skip_clips_whose_cut_would_split_two_words_starting_together():
    together = _clip("t", 16_000, [0.2, 0.5, 0.5])  # 2 words cannot be cut from it: both 0.5 s words go
    stream = ClipStream([together, _clip("a", 16_000, [0.1, 0.4, 0.7])], seed=(0, 0))
    stream.order = np.array([0, 1])
    assert [s.label for s in clip_with_words(stream, 2, "x").segments] == ["a0", "a1"]
    with pytest.raises(ValueError, match="after exactly 2 words"):
        clip_with_words(ClipStream([together], seed=(0, 0)), 2, "x")


def test_a_corpus_without_usable_clips_is_a_one_line_error(monkeypatch, tmp_path):
    import framestamp.data

    monkeypatch.setattr(framestamp.data, "load_subset", lambda *args: [_clip("silent", 16_000, [])])
    with pytest.raises(ConfigError, match="no test clip with words"):
        run_bench(BenchConfig(output_dir=str(tmp_path)))

def test_round_robin_warms_up_then_times_each_method_its_number_of_times():
    from framestamp.bench.timing import summary, time_round_robin

    calls = []
    methods = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = time_round_robin(methods, {"a": 3, "b": 1}, 1, torch.device("cpu"), {"b": lambda: calls.append("wb")})
    assert calls[:2] == ["a", "wb"] and calls.count("a") == 4 and calls.count("b") == 1
    assert len(times["a"]) == 3 and len(times["b"]) == 1
    assert summary([1.0, 2.0, 3.0, 4.0, 5.0]) == {"median": 3.0, "q1": 2.0, "q3": 4.0, "iqr": 2.0,
                                                       "min": 1.0, "max": 5.0, "n": 5}


# ----- generation length ---------------------------------------------------------------------
def test_min_new_tokens_forces_the_length_even_when_the_model_wants_to_stop(tiny_backbone):
    from framestamp.model import FrameStampModel, ModelConfig

    model = FrameStampModel(tiny_backbone, ModelConfig()).eval()
    end_id = tiny_backbone.tokenizer.convert_tokens_to_ids("<|im_end|>")

    def prefer_end(module, args, output):
        output[..., end_id] += 1e4  # the model now ends its answer at once
        return output

    hook = tiny_backbone.model.lm_head.register_forward_hook(prefer_end)
    inputs = model.prepare(["When does each word start?"] * 2, [np.zeros(16_000, np.float32)] * 2)
    counter = StepCounter(model)
    try:
        tiny_backbone.generate(inputs, 9)
        assert counter.count == 1
        counter.count = 0
        with generation_length(model, 9):
            tiny_backbone.generate(inputs, 9)
        assert counter.count == 9
        assert tiny_backbone.model.generation_config.min_new_tokens is None  # restored
    finally:
        hook.remove()
        counter.remove()


def test_trained_token_models_stop_by_themselves_and_wrong_lengths_are_caught(tiny_backbone, pool):
    from framestamp.model import FrameStampModel, ModelConfig

    model = FrameStampModel(tiny_backbone, ModelConfig(head_objective="none"))
    batch = build_batches(pool, "events", [3], ["all"], 2, 0)[0]
    plan = token_plan(ModelPair(model, model, "x", "x", False, True), batch, fixed_length=False)
    assert plan.regime == "trained" and plan.min_new_tokens is None
    assert plan.max_new_tokens == max(plan.reference_tokens) + 16
    fixed = token_plan(ModelPair(model, model, "x", "x", False, True), batch, fixed_length=True)
    fixed.steps = [fixed.max_new_tokens - 1]
    with pytest.raises(RuntimeError, match="steps instead of"):
        check_fixed_steps(fixed)


def test_cli_defaults_are_the_config_defaults(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import framestamp.bench as bench_module
    from framestamp.bench.run import BenchResult
    from framestamp.cli import app

    seen = {}

    def fake_run(config, log=None):
        seen["config"] = config
        return BenchResult({}, tmp_path / "bench.json", tmp_path / "bench.md", None)

    monkeypatch.setattr(bench_module, "run_bench", fake_run)
    result = CliRunner().invoke(app, ["bench"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen["config"] == BenchConfig() == BenchConfig.from_dict(BenchConfig().to_dict())
    CliRunner().invoke(app, ["bench", "--long-align-s", "0"], catch_exceptions=False)
    assert seen["config"].long_align_s == 0.0
    result = CliRunner().invoke(app, ["bench", "--modes", "all,sometimes"])
    assert result.exit_code != 0 and "sometimes" in str(result.exception)
