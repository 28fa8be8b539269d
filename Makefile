# Thin wrappers around scripts/ (which work without make too).
.PHONY: setup quickstart test seed64 compare clean bench quality

setup:
	bash scripts/setup.sh dev

quickstart:
	bash scripts/quickstart.sh

test:
	bash scripts/test.sh

# The full reference run: 80 epochs of seed64 (GPU recommended), evaluated and reported,
# its timings in benchmarks/results/full_run_seed64_DEVICE.json.
seed64:
	bash scripts/setup.sh
	.venv/bin/python benchmarks/full_run.py --run-dir runs/seed64

# GAN vs InfoGAN at the quick64 budget (two quick64-length runs), then
# runs/compare-quick64/infogan/report.html shows them side by side.
compare:
	bash scripts/setup.sh
	.venv/bin/infogan compare --preset quick64 --run-dir runs/compare-quick64

clean:
	rm -rf .venv runs .pytest_cache .ruff_cache

# Training throughput against a textbook loop (see docs/speed.md).
bench:
	bash scripts/setup.sh dev
	.venv/bin/python benchmarks/throughput.py

# tilt28 (or PRESET=restyle28, ...) over three seeds on the test set: per-seed metrics,
# median and worst (see docs/results.md).
PRESET ?= tilt28
quality:
	bash scripts/setup.sh dev
	.venv/bin/python benchmarks/quality.py --preset $(PRESET) --seeds 3 --split test
