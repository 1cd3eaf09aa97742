"""``framestamp reproduce --jobs N``: experiments side by side, each after the one it starts from.

Each experiment runs in a process of its own (one training thread, as its recipe says) and writes
what it prints to ``<runs>/<name>.log``; the console says when each starts and ends. The corpora
are built first, in this process, so that no two experiments build the same one at once.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from rich.console import Console

from ..errors import FramestampError
from ..train.stopping import StopRequests, StoppedOnRequest, share_stop_requests
from .run import Step, run_step


def run_in_parallel(steps: list[Step], jobs: int, results_dir: Path, runs_dir: Path, console: Console) -> None:
    """Run ``steps`` ``jobs`` at a time; a step starts once the step it starts from has finished.

    Raises:
        FramestampError: naming the first experiment that failed and its log, after the
            experiments already running have finished.
    """
    _build_corpora(steps, console)
    runs_dir.mkdir(parents=True, exist_ok=True)
    waiting, running = list(steps), {}
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # no forked copies of torch's thread pools
    # On SIGTERM or Ctrl-C no more experiments start, a training one saves a checkpoint after its
    # current step and stops, an evaluating one stops after the evaluation under way (a rerun goes
    # on from there); on a second signal the experiments are ended (a training one still finishes
    # its step).
    stopping = context.Event()
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(threads, stopping))
    with pool, StopRequests(on_request=lambda _: stopping.set(), interrupt_on_second=True) as stop:
        try:
            while waiting or running:
                if stop.requested:
                    waiting.clear()
                unfinished = {step.experiment.name for step in [*waiting, *running.values()]}
                for step in [s for s in waiting if s.experiment.starts_from not in unfinished][: jobs - len(running)]:
                    waiting.remove(step)
                    log = runs_dir / f"{step.experiment.name}.log"
                    console.print(f"[bold]start[/] {step.experiment.name} (output in {log})")
                    running[pool.submit(_run_logged, step, results_dir, log)] = step
                if not running:
                    stuck = ", ".join(step.experiment.name for step in waiting)
                    raise FramestampError(f"experiments wait on each other: {stuck}")
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    _finish(running.pop(future), future, runs_dir, console, waiting)
        except KeyboardInterrupt:  # the second signal
            for worker in multiprocessing.active_children():
                worker.terminate()
            raise
    if stop.requested:
        raise StoppedOnRequest(f"on request ({stop.requested}); run the same command again to go on")


def _finish(step: Step, future: Future, runs_dir: Path, console: Console, waiting: list[Step]) -> None:
    name = step.experiment.name
    error = future.exception()
    if error is None:
        console.print(f"[bold]done[/] {name} ({future.result():.1f} min)")
        return
    waiting.clear()  # start nothing more; what runs now finishes
    if isinstance(error, StoppedOnRequest):
        raise StoppedOnRequest(f"{name}: {error}")
    raise FramestampError(f"{name} failed ({type(error).__name__}: {error}); its output: {runs_dir / name}.log")


def _run_logged(step: Step, results_dir: Path, log: Path) -> float:
    """Run one step with its output in ``log``; minutes taken."""
    with open(log, "a", buffering=1) as out, redirect_stdout(out), redirect_stderr(out):
        return run_step(step, results_dir, Console(file=out, force_terminal=False, width=120))


def _start_worker(threads: int, stopping) -> None:
    import torch

    torch.set_num_threads(threads)
    share_stop_requests(stopping)


def _build_corpora(steps: list[Step], console: Console) -> None:
    from ..corpus.build import build_corpus
    from ..corpus.config import SIZES

    built_in = {(step.config.data.corpus, step.config.data.seed) for step in steps if step.config.data.corpus in SIZES}
    for size, seed in sorted(built_in):
        console.print(f"[bold]corpus[/] {size} (seed {seed})")
        build_corpus(size=size, seed=seed)
