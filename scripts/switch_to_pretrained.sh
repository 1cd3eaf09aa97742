#!/bin/bash
# The switch's mechanical steps (branch switch-prep; delete before merging): the pre-trained plan's
# stored results into results/metrics, the README and docs blocks, the report, the shipped checkpoints.
# Usage: scripts/switch_to_pretrained.sh RUNS RESULTS...   (the lanes' runs folder and their results folders)
set -euo pipefail
RUNS=$1; shift
PY=.venv/bin/python
mkdir -p results/metrics
for results in "$@"; do cp "$results"/metrics/*.json results/metrics/; done
# rows trained once and kept as stored probes (lost runs, or stages whose evaluation is the kept one)
for n in words-ihp words-token words-open words-spoken-short words-token-spoken-short; do
  cp results/probes/tiny-plan-$n.json results/metrics/$n.json
done
cp results/probes/tiny-plan-words-ihp-short-kept.json results/metrics/words-ihp-short.json
cp results/probes/tiny-plan-words-token-short-rerun.json results/metrics/words-token-short.json
cp results/tiny-scratch/metrics/anchor-pocketsphinx.json results/metrics/
cp results/probes/anchor-pocketsphinx-open.json results/probes/anchor-pocketsphinx-test_unseen-open.json results/metrics/
# the finals that ship, as evaluated (window and threshold written by their evaluations)
$PY - "$RUNS" <<'PY'
import sys
from pathlib import Path
from framestamp.reproduce.ship import ship
for path in ship(Path(sys.argv[1]), Path("results")):
    print("shipped", path)
PY
$PY -m framestamp.reproduce.published
$PY - <<'PY'
from pathlib import Path
from framestamp.reproduce.report import write_report
print(write_report(Path("results"), preset="tiny"))
print(write_report(Path("results/tiny-scratch"), preset="tiny-scratch"))
PY
du -sh src/framestamp/checkpoints/*
