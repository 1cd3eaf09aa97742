"""Stopping a run on request: the step under way finishes, a checkpoint is saved, the same command
continues from it to the weights of a run never stopped; a second signal stops at once."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from safetensors.torch import load_file

from framestamp.train import loop, stopping
from framestamp.train.stopping import StopRequests, StoppedOnRequest

from test_train import config, toy_clips  # the toy run of the training tests (same folder)


@pytest.fixture
def interrupt_by_default():
    """Python's own SIGINT handler, whatever the test run inherited (a job started in the background
    of a shell inherits SIGINT ignored, and then a second signal is rightly ignored too)."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


def test_the_first_signal_is_held_and_a_second_one_acts_as_if_none_were_caught(monkeypatch, interrupt_by_default):
    monkeypatch.setattr(stopping, "SAME_REQUEST_S", 0.0)
    before = signal.getsignal(signal.SIGINT)
    with StopRequests() as stop:
        assert stop.requested is None
        signal.raise_signal(signal.SIGINT)
        assert stop.requested == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_signal_right_after_the_first_is_the_same_request(interrupt_by_default):
    # torchrun passes the terminal's Ctrl-C on to processes that got it already
    with StopRequests() as stop:
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        assert stop.requested == "SIGINT"


def test_a_caller_that_ends_what_it_runs_gets_a_keyboard_interrupt_on_the_second(monkeypatch):
    monkeypatch.setattr(stopping, "SAME_REQUEST_S", 0.0)
    asked = []
    with StopRequests(on_request=asked.append, interrupt_on_second=True):
        signal.raise_signal(signal.SIGTERM)
        assert asked == ["SIGTERM"]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_handlers_are_restored_on_leaving():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopRequests():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def _weights(final):
    return load_file(final / "backbone" / "model.safetensors") | load_file(final / "head.safetensors")


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_saves_its_step_and_resumes_to_the_same_weights(tmp_path, monkeypatch):
    straight = loop.train(config(tmp_path / "a", max_steps=3, checkpoint_every=100), toy_clips(), resume=False)
    stopped = config(tmp_path / "b", max_steps=3, checkpoint_every=100)
    step_once = loop.optimisation_step

    def step_then_signal(module, optimizer, scheduler, batches, step, *rest):
        losses = step_once(module, optimizer, scheduler, batches, step, *rest)
        if step == 0:
            signal.raise_signal(signal.SIGTERM)  # arrives during step 1 (index 0)
        return losses

    monkeypatch.setattr(loop, "optimisation_step", step_then_signal)
    with pytest.raises(StoppedOnRequest, match=r"on request \(SIGTERM\) after step 1 of 3; checkpoint .*checkpoint-1"):
        loop.train(stopped, toy_clips(), resume=False)
    run = tmp_path / "b" / "run"
    assert sorted(p.name for p in run.iterdir() if p.is_dir() and p.name != "tensorboard") == ["checkpoint-1"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone with the run
    monkeypatch.setattr(loop, "optimisation_step", step_once)
    resumed = loop.train(stopped, toy_clips(), resume=True)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    steps = [line.split(",")[0] for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == ["1", "2", "3"]  # the stopped step is logged once


def test_a_stop_asked_during_the_last_step_lets_the_run_finish(tmp_path, monkeypatch):
    step_once = loop.optimisation_step

    def step_then_signal(module, optimizer, scheduler, batches, step, *rest):
        losses = step_once(module, optimizer, scheduler, batches, step, *rest)
        if step == 1:
            signal.raise_signal(signal.SIGTERM)
        return losses

    monkeypatch.setattr(loop, "optimisation_step", step_then_signal)
    final = loop.train(config(tmp_path), toy_clips(), resume=False)  # 2 steps
    assert final.name == "final" and final.is_dir()


def test_a_worker_stops_when_its_parent_asks(tmp_path, monkeypatch):
    import multiprocessing

    asked = multiprocessing.get_context("spawn").Event()
    asked.set()
    monkeypatch.setattr(stopping, "_PARENT_REQUEST", asked)
    with pytest.raises(StoppedOnRequest, match="the parent process.*after step 1 of 2"):
        loop.train(config(tmp_path), toy_clips(), resume=False)
    assert (tmp_path / "run" / "checkpoint-1").is_dir() and not (tmp_path / "run" / "final").exists()


@pytest.mark.slow
def test_reproduce_with_two_jobs_stops_on_sigterm_with_a_checkpoint_each_and_one_line(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from framestamp.reproduce.run import reproduce
        from framestamp.train.stopping import StoppedOnRequest
        try:
            reproduce(results_dir={str(tmp_path / "results")!r}, runs_dir={str(tmp_path / "runs")!r},
                      only=("words-ihp-short", "words-token-short"), corpus="tiny", max_steps=100000, jobs=2)
        except StoppedOnRequest as stopped:
            print("stopped:", stopped, file=sys.stderr)
            sys.exit(130)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = [tmp_path / "runs" / name / "config.yaml" for name in ("words-ihp-short", "words-token-short")]
    deadline = time.monotonic() + 240
    while not all(path.exists() for path in started) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    assert process.poll() is None, process.communicate()
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=240)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "stopped: " in err and "the parent process" in err  # the workers were asked
    for name in ("words-ihp-short", "words-token-short"):
        run = tmp_path / "runs" / name
        assert any(p.name.startswith("checkpoint-") for p in run.iterdir()), name
        assert not (run / "final").exists()


@pytest.mark.slow
def test_ctrl_c_at_the_terminal_stops_a_run_with_loader_workers_after_a_checkpoint(tmp_path):
    # the terminal sends SIGINT to the whole process group: the training process and its loader workers
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""
        objective: ihp
        model: {{backbone: tiny-scratch}}
        data: {{corpus: tiny, modes: [one]}}
        max_steps: 100000
        checkpoint_every: 100000
        batch_size: 2
        loader_workers: 1
        threads: 1
        output_dir: {tmp_path / "run"}
    """))
    command = [sys.executable, "-m", "framestamp", "train", str(recipe)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while not (tmp_path / "run" / "config.yaml").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    time.sleep(3)  # a few steps, with batches made by the worker
    assert process.poll() is None, process.communicate()
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=240)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "stopped: on request (SIGINT)" in err
    assert any(p.name.startswith("checkpoint-") for p in (tmp_path / "run").iterdir())
