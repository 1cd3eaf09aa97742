PY := .venv/bin/python

.PHONY: setup demo test

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m framestamp demo

test: setup
	$(PY) -m pytest
