"""Started by test_launch.py under ``accelerate launch``: every process evaluates its shard.

Writes the gathered predictions and the metrics (main process) to the JSON file named on the
command line. Not a test module itself.
"""

import json
import sys

from accelerate import PartialState

from framestamp.data import load_subset
from framestamp.evaluate.run import evaluation_items, run
from framestamp.model import ModelConfig
from framestamp.train.loop import build_model

N_ITEMS, BATCH_SIZE = 7, 2


def evaluate() -> dict:
    """An untrained tiny model (seed 0) on the first tiny-corpus test queries."""
    state = PartialState()
    model = build_model(ModelConfig(), seed=0).eval().to(state.device)
    items = evaluation_items(load_subset("builtin:tiny:0", "words", "test"), "one", limit=N_ITEMS)
    result = run(model, items, batch_size=BATCH_SIZE, progress=False)
    return {
        "times_s": [[float(t) for t in p.times_s] for p in result.predictions],
        "metrics": json.loads(json.dumps(result.metrics, default=float)),
        "n_batches": len(result.seconds_per_batch),
        "n_items": len(result.items),
    }


if __name__ == "__main__":
    values = evaluate()
    if PartialState().is_main_process:
        with open(sys.argv[1], "w") as handle:
            json.dump(values, handle)
