"""``framestamp bench``: wall time of the frame method against generated timestamps (docs/method.md section 6)."""

from .run import BenchConfig, BenchResult, run_bench

__all__ = ["BenchConfig", "BenchResult", "run_bench"]
