"""Start several processes with ``accelerate launch`` on the CPU (helpers of the tests here)."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(args: list[str], num_processes: int = 2, timeout_s: float = 180) -> str:
    """``accelerate launch`` ``args`` on ``num_processes`` CPU processes; return the output.

    ``--multi_gpu`` makes accelerate start the processes with torchrun (its ``--cpu`` flag starts
    several only through mpirun); with no visible GPU they talk over gloo on the loopback.
    """
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()), *args,
    ]  # fmt: skip
    env = os.environ | {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    with (run_dir / "metrics.csv").open() as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
