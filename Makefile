# Thin wrappers around scripts/ (which work without make too).
.PHONY: setup quickstart test seed64 clean

setup:
	bash scripts/setup.sh dev

quickstart:
	bash scripts/quickstart.sh

test:
	bash scripts/test.sh

# The full reference run: 80 epochs of seed64 (GPU recommended).
seed64:
	bash scripts/setup.sh
	.venv/bin/infogan train --preset seed64 --run-dir runs/seed64

clean:
	rm -rf .venv runs .pytest_cache .ruff_cache
