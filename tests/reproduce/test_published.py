"""What the project publishes agrees with what it measured: the README's generated blocks, the
shipped model cards, and the step budgets that make frame and token models comparable."""

import json
import re
from pathlib import Path

import pytest

from framestamp.model import CONFIG_NAME
from framestamp.reproduce.plan import FULL, PLANS, Experiment, recipe
from framestamp.reproduce.stored import SHIPPED_PRESET
from framestamp.reproduce.published import (
    generate,
    minute_cap_binds,
    recipe_drift,
    render,
    stale_blocks,
    steps_trained,
    token_twins,
    twin_of,
    voice_kind,
)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
CHECKPOINTS = ROOT / "src" / "framestamp" / "checkpoints"


def stored(name: str, preset: str = SHIPPED_PRESET) -> dict | None:
    """The stored metrics of the run ``name`` of ``preset``'s plan: the shipped preset's under
    results/metrics, the from-scratch plan's (trained on corpus version 3) under its own folder."""
    folder = RESULTS / "metrics" if preset == SHIPPED_PRESET else RESULTS / preset / "corpus-v3" / "metrics"
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


# ------------------------------------------------------------------ the README


def test_the_readme_blocks_are_what_the_stored_results_give():
    stale = stale_blocks(ROOT / "README.md", RESULTS)
    assert not stale, f"README blocks differ from results/: {stale}; run python -m framestamp.reproduce.published"


def test_the_readme_quotes_the_bench_cells_it_names():
    """The speed rows are the bench's own cells: each speed-up in the README's CPU block is in bench.md."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- published:speed-cpu -->")[1].split("<!-- /published:speed-cpu -->")[0]
    bench = (RESULTS / "bench" / "bench.md").read_text()
    cells = re.findall(r"\| (\d+\.\dx / \d+\.\dx) \|", block)
    assert cells and all(f"| {cell} |" in bench for cell in cells)


def test_the_speed_block_adds_end_to_end_and_the_long_recording_when_measured():
    from framestamp.reproduce.published import speed_table

    bench = json.loads((RESULTS / "bench" / "bench.json").read_text())
    for m in bench["measurements"]:  # as a bench from before they were measured stored it
        m["ratios"] = {k: v for k, v in m["ratios"].items() if not k.startswith("end_to_end_")}
    bench.pop("long_align", None)
    plain = speed_table(bench, "bench")
    assert "end to end" not in plain and "framestamp align" not in plain
    for m in bench["measurements"]:
        m["ratios"] |= {f"end_to_end_{d}": {"of_medians": 1.5} for d in bench["config"]["decoders"]}
    bench["long_align"] = {"audio_s": 3600.0, "wall_s": 90.0, "peak_memory_mib": 700.0, "accuracy_50ms": 0.8}
    text = speed_table(bench, "bench")
    assert text.startswith(plain)
    assert "- end to end (WAV files in, JSON answers out) over the bare forward, 60 s, `all` questions: 1.50x / 1.50x." in text
    assert "- 60.0 min of speech through `framestamp align`: 90.0 s, peak memory 700 MiB, 80.0% of word starts" in text


def test_render_replaces_blocks_and_inline_values_and_refuses_unknown_ones():
    text = "a <!-- published:n -->1<!-- /published:n --> b\n<!-- published:t -->\nold\n<!-- /published:t -->\n"
    out = render(text, {"n": "2", "t": "| x |\n|---|"})
    assert out == ("a <!-- published:n -->2<!-- /published:n --> b\n"
                   "<!-- published:t -->\n| x |\n|---|\n<!-- /published:t -->\n")  # fmt: skip
    with pytest.raises(ValueError, match="no <!-- published:gone"):
        render(text, {"n": "2", "t": "x", "gone": "y"})
    with pytest.raises(ValueError, match="nothing to generate"):
        render(text, {"n": "2"})


def test_a_number_changed_by_hand_is_caught(tmp_path):
    text = (ROOT / "README.md").read_text()
    head, block = text.split("<!-- published:results-one -->", 1)
    cell = re.search(r"\| (\d+\.\d)% \|", block)
    edited = block[: cell.start(1)] + f"{float(cell.group(1)) + 0.1:.1f}" + block[cell.end(1) :]
    readme = tmp_path / "README.md"
    readme.write_text(head + "<!-- published:results-one -->" + edited)
    assert stale_blocks(readme, RESULTS) == ["results-one"]


def test_generated_numbers_come_from_the_metrics():
    words = next(e.name for e in FULL if e.ships_as == "words")
    record = next(r for r in stored(words)["evaluations"] if (r["split"], r["mode"]) == ("test", "one"))
    row = next(line for line in generate(RESULTS)["results-one"].splitlines() if f"`{words}`" in line)
    assert f"| {record['metrics']['accuracy']['0.05']:.1%} |" in row and f"| {record['n']} |" in row


def test_the_ablation_sets_each_shipped_model_beside_its_from_scratch_namesake():
    from framestamp.reproduce.published import SHIPPED, ablation_table

    def one(split, at_50, corpus="default", own="default"):
        record = {"split": split, "mode": "one", "n": 3, "metrics": {"accuracy": {"0.05": at_50}}}
        return {"config": {"data": {"corpus": own}}, "evaluations": [record | ({"corpus": corpus} if corpus else {})]}

    scratch_words = next(e.name for e in PLANS["tiny-scratch"] if e.ships_as == "words")
    ours = one("test", 0.9, own="open")  # an open-corpus model: its answers to the grammar-only clips
    ours["evaluations"] += one("test", 0.5, corpus=None, own="open")["evaluations"]  # its own clips: not compared
    rows = ablation_table({SHIPPED["words"]: ours}, {scratch_words: one("test", 0.75, corpus=None)}).splitlines()
    assert f"| `words` | test, one occurrence | 50 ms | 90.0% (`{SHIPPED['words']}`) | 75.0% (`{scratch_words}`) |" in rows
    # a question neither stored: dashes, not a number
    assert any(row.startswith("| `events` | test, one occurrence | 50 ms | - | - |") for row in rows)


# ------------------------------------------------------------------ model cards


def shipped() -> list[Experiment]:
    return [e for e in FULL if e.ships_as and (CHECKPOINTS / e.ships_as / "README.md").is_file()]


@pytest.mark.parametrize("experiment", shipped(), ids=lambda e: e.ships_as)
def test_a_shipped_model_card_is_its_metrics(experiment):
    from framestamp.reproduce.ship import card

    text = (CHECKPOINTS / experiment.ships_as / "README.md").read_text()
    summary = stored(experiment.name)
    assert summary is not None, f"{experiment.ships_as} ships {experiment.name}, which has no results/metrics JSON"
    own_clips = (r for r in summary["evaluations"] if not r.get("copy") and not r.get("corpus"))
    for record in (r for r in own_clips if r["mode"] in ("one", "all")):
        accuracy = record["metrics"]["accuracy"]
        row = f"| {record['split']} | {record['mode']} | {record['n']} | " + " | ".join(
            f"{accuracy[t]:.1%}" for t in ("0.02", "0.05", "0.1")) + " |"  # fmt: skip
        assert row in text, f"{experiment.ships_as}: card lacks {row}"
    assert f"{steps_trained(summary, ' steps')} in" in text
    # the window the plan chose is the one the shipped model answers with
    choice = summary.get("window_choice")
    config = json.loads((CHECKPOINTS / experiment.ships_as / CONFIG_NAME).read_text())
    assert config.get("window_s") == (choice["window_s"] if choice else None)
    assert text == card(experiment, RESULTS, CHECKPOINTS / experiment.ships_as), (
        f"{experiment.ships_as}'s card is not what its metrics give; run python -m framestamp.reproduce.ship --cards")


def test_a_card_says_which_window_was_chosen_and_what_each_candidate_scored():
    from framestamp.reproduce.ship import _window_text

    assert _window_text({}) == []
    choice = {"window_s": 15.0, "n": 96, "n_long": 48, "candidates": {
        "30": {"accuracy": 0.5}, "20": {"accuracy": 0.55}, "15": {"accuracy": 0.6}, "10": {"accuracy": 0.58}}}
    text = " ".join(_window_text({"window_choice": choice}))
    assert "windows of 15 s" in text and "96 dev questions, 48 of them on 20-60 s recordings" in text
    assert "30 s 50.0%, 20 s 55.0%, 15 s 60.0%, 10 s 58.0%" in text


def test_a_card_says_when_its_numbers_come_from_an_earlier_recipe():
    drifted = [e for e in shipped() if recipe_drift(e, stored(e.name))]
    for experiment in drifted:
        assert "earlier version of the" in (CHECKPOINTS / experiment.ships_as / "README.md").read_text()


# ------------------------------------------------------------------ budgets of frame and token twins


def test_twins_are_paired_by_name():
    scratch = PLANS["tiny-scratch"]
    assert twin_of("words-ihp-long", scratch) == "words-token-long" and twin_of("words-all", scratch) == "words-all-token"
    assert twin_of("speakers-ihp", scratch) == "speakers-token" and twin_of("words-token", scratch) is None
    assert twin_of("words-ihp-gap", scratch) is None  # no token run of that stage in the plan
    assert twin_of("words-spoken") == "words-token-spoken"  # the shipped plan by default
    assert twin_of("words-spoken-short") == "words-token-spoken-short"
    assert twin_of("words-open") is None and twin_of("words-token-spoken") is None
    pairs = {(frame.name, token.name) for frame, token in token_twins(scratch)}
    assert {("words-ihp-short", "words-token-short"), ("words-all", "words-all-token"),
            ("events-ihp-absent", "events-token-absent")} <= pairs  # fmt: skip
    assert ("events-ihp", "events-token") in {(f.name, t.name) for f, t in token_twins()}


EVERY_TWIN = [pair for preset in sorted(PLANS) for pair in token_twins(PLANS[preset])]


@pytest.mark.parametrize("frame,token", EVERY_TWIN, ids=lambda e: f"{e.preset}:{e.name}")
def test_a_frame_model_and_its_token_twin_share_data_start_and_step_budget(frame, token):
    """Same data, optimisation and step budget, stage by stage from the same backbone, and no minute
    cap that may stop one of them early."""
    a, b = recipe(frame.recipe, preset=frame.preset), recipe(token.recipe, preset=token.preset)
    assert a.max_steps == b.max_steps and a.epochs is None and b.epochs is None
    assert (a.lr, a.lr_schedule, a.warmup_steps, a.batch_size) == (b.lr, b.lr_schedule, b.warmup_steps, b.batch_size)
    assert (a.data, a.aux_identity_weight, a.seed) == (b.data, b.aux_identity_weight, b.seed)
    # The same curriculum: as many stages, of the same steps, from the same backbone.
    frame_stages, token_stages = stages(frame), stages(token)
    assert [recipe(e.recipe, preset=e.preset).max_steps for e in frame_stages] == [
        recipe(e.recipe, preset=e.preset).max_steps for e in token_stages]  # fmt: skip
    assert frame_stages[-1].init_from == token_stages[-1].init_from
    for experiment, config in ((frame, a), (token, b)):
        assert not minute_cap_binds(config, stored(experiment.name, experiment.preset)), (
            f"{experiment.name}: max_minutes {config.max_minutes} may stop it before its {config.max_steps} steps")


def stages(experiment: Experiment) -> list[Experiment]:
    """``experiment`` and the runs it continues, latest first."""
    by_name = {e.name: e for e in PLANS[experiment.preset]}
    chain = [experiment]
    while chain[-1].continue_from:
        chain.append(by_name[chain[-1].continue_from])
    return chain


def test_a_minute_cap_binds_unless_a_stored_run_finished_its_steps_under_it():
    config = recipe("words-all")
    assert not minute_cap_binds(config, None)  # no cap
    capped = config.__class__.from_dict(config.to_dict() | {"max_minutes": 30})
    run = {"config": capped.to_dict(), "train": {"step": capped.max_steps}}
    assert minute_cap_binds(capped, None)
    assert not minute_cap_binds(capped, run)
    assert minute_cap_binds(capped, run | {"train": {"step": capped.max_steps - 1}})
    looser = capped.to_dict() | {"max_minutes": 60}
    assert minute_cap_binds(capped, {"config": looser, "train": {"step": capped.max_steps}})


def test_a_run_of_an_earlier_recipe_is_told_apart_from_todays():
    from framestamp.reproduce.plan import experiment_config

    experiment = next(e for e in FULL if e.name == "words-all")
    today = experiment_config(experiment).to_dict()
    assert recipe_drift(experiment, {"config": today, "train": {"step": today["max_steps"]}}) == []
    old = today | {"max_steps": 5000, "max_minutes": 30,
                   "model": today["model"] | {"backbone_path": "elsewhere/words-ihp-v1/final/backbone"}}  # fmt: skip
    summary = {"config": old, "train": {"step": 2021.0}}
    drift = recipe_drift(experiment, summary)
    assert drift[0].startswith("backbone of `words-ihp-v1`") and any(d.startswith("max_steps `5000`") for d in drift)
    assert any(d.startswith("max_minutes `30`") for d in drift)  # it stopped the run: it counts
    assert steps_trained(summary) == "2,021 of 5,000 (30-min cap)" and steps_trained(summary, " steps").endswith("cap)")
    finished = {"config": today | {"max_minutes": 30}, "train": {"step": today["max_steps"]}}
    assert recipe_drift(experiment, finished) == []  # a cap that did not stop the run does not
    checkpointed_often = {"config": today | {"checkpoint_every": 100, "log_every": 5}, "train": finished["train"]}
    assert recipe_drift(experiment, checkpointed_often) == []  # it changes what is written, not what is learned


# ------------------------------------------------------------------ documents the code cites


def test_cited_documents_exist():
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "src").rglob("*.py"))]
    for path in texts:
        text = path.read_text()
        assert not re.search(r"METHOD\.md|TINY_MODEL_NOTES|STYLE\.md|\.\./shared/", text), f"{path} cites a missing file"
        for cited in re.findall(r"\bdocs/[\w.-]+\.md", text):
            assert (ROOT / cited).is_file(), f"{path} cites {cited}, which does not exist"


def test_the_all_words_table_shows_the_transcript_given_where_it_was_asked():
    from framestamp.reproduce.published import ALL_WORDS, all_table

    def summary(aligned=None):
        metrics = {"accuracy": {"0.02": 0.5, "0.05": 0.7, "0.1": 0.8}, "count_accuracy": 0.3}
        evaluations = [{"split": "test", "mode": "all", "n": 5, "metrics": metrics, "median_seconds_per_query": 0.1}]
        if aligned is not None:
            evaluations.append({"split": "test", "mode": "align", "n": 5, "metrics": {"accuracy": {"0.05": aligned}}})
        return {"config": stored(ALL_WORDS[0])["config"], "evaluations": evaluations, "train": {"step": 1}}

    rows = all_table({ALL_WORDS[0]: summary(0.887), ALL_WORDS[1]: summary()}).splitlines()
    assert "| 70.0% | 80.0% | 30.0% | n/a | 88.7% |" in rows[2] and "| n/a | - |" in rows[3]


def test_the_breakdown_calls_every_synthesiser_synthetic_and_only_the_recorded_prompts_recorded():
    sources = json.loads((RESULTS / "probes" / "tiny-plan-words-spoken.json").read_text())["evaluations"][0]["by_source"]
    kinds = {source: voice_kind(source) for source in sources}
    assert kinds == {source: "recorded voice" if source == "asterisk-core-sounds-en-wav" else "synthetic voices"
                     for source in sources}
    assert len(kinds) == 4
