"""Two CPU processes under ``accelerate launch``: the same training as one process with the
same global batch, exact resume after a kill, and sharded evaluation with gathered results."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from launching import launch, read_metrics
from safetensors.torch import load_file

from framestamp.model import FrameStampModel
from framestamp.train.config import TrainConfig
from framestamp.train.loop import train

pytestmark = pytest.mark.slow  # each test launches processes or trains (15-20 s)

# Each step: 4 clips; under two processes, 1 clip per micro-batch and 2 micro-batches each.
TINY_RUN = {
    "objective": "ihp", "data": {"corpus": "tiny", "subset": "words", "modes": ["one", "all"]},
    "lr": 1e-3, "warmup_steps": 1, "max_steps": 4, "checkpoint_every": 2, "log_every": 1, "threads": 1,
    "batch_size": 1, "effective_batch_size": 4, "model": {"backbone": "tiny-scratch"},
}  # fmt: skip


def weights(final: Path) -> dict[str, torch.Tensor]:
    return load_file(final / "backbone" / "model.safetensors") | load_file(final / "head.safetensors")


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, tiny_words):
    """A 4-step run of two processes (checkpoints at steps 2 and 4) through the CLI."""
    root = tmp_path_factory.mktemp("two-processes")
    config = TrainConfig.from_dict(TINY_RUN | {"output_dir": str(root / "run")})
    config.save(root / "config.yaml")
    output = launch(["-m", "framestamp", "train", str(root / "config.yaml")])
    assert "4 clips (1 per micro-batch x 2 micro-batches x 2 processes)" in output
    return root, config


def test_two_processes_train_like_one_process_with_the_same_global_batch(two_process_run, tmp_path):
    root, config = two_process_run
    one = replace(config, batch_size=4, effective_batch_size=None, output_dir=str(tmp_path / "one"))
    single = train(one, resume=False)
    two_rows, one_rows = read_metrics(root / "run"), read_metrics(tmp_path / "one")
    assert [r["step"] for r in two_rows] == [r["step"] for r in one_rows] == [1, 2, 3, 4]
    np.testing.assert_allclose([r["loss"] for r in two_rows], [r["loss"] for r in one_rows], rtol=1e-5)
    a, b = weights(root / "run" / "final"), weights(single)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)
    model = FrameStampModel.from_pretrained(root / "run" / "final")
    [scores] = model.score(["When does the word 'apple' occur?"], [np.zeros(16000, dtype=np.float32)])
    assert scores.shape == (100,) and np.isfinite(scores).all()


def test_a_killed_two_process_run_resumes_to_the_same_weights(two_process_run, tmp_path):
    root, config = two_process_run
    # As if killed between steps 2 and 4: only checkpoint-2 and the log so far survive.
    shutil.copytree(root / "run", tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "checkpoint-4")
    shutil.rmtree(tmp_path / "run" / "final")
    replace(config, output_dir=str(tmp_path / "run")).save(tmp_path / "config.yaml")
    launch(["-m", "framestamp", "train", str(tmp_path / "config.yaml")])
    straight, resumed = weights(root / "run" / "final"), weights(tmp_path / "run" / "final")
    assert straight.keys() == resumed.keys()
    for name in straight:
        torch.testing.assert_close(straight[name], resumed[name], rtol=0, atol=0, msg=name)
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2, 3, 4]


def test_evaluation_shards_over_processes_and_gathers_every_prediction(tmp_path, tiny_words):
    import evaluate_shards

    launch([str(Path(evaluate_shards.__file__)), str(tmp_path / "two.json")])
    two = json.loads((tmp_path / "two.json").read_text())
    one = evaluate_shards.evaluate()
    assert two["n_items"] == one["n_items"] == evaluate_shards.N_ITEMS
    assert two["n_batches"] == one["n_batches"] == 4  # shards of 4 and 3 items, batches of 2
    for a, b in zip(two["times_s"], one["times_s"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    two_metrics, one_metrics = flatten(two["metrics"]), flatten(one["metrics"])
    assert two_metrics.keys() == one_metrics.keys()
    for key, value in one_metrics.items():
        np.testing.assert_allclose(two_metrics[key], value, atol=1e-6, err_msg=key)


def flatten(values, prefix: str = "") -> dict:
    if isinstance(values, dict):
        return {k: v for key, value in values.items() for k, v in flatten(value, f"{prefix}{key}/").items()}
    return {prefix.rstrip("/"): np.nan if values is None else values}
