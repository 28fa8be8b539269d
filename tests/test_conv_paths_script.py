"""benchmarks/conv_paths.py times each direction of the networks' convolutions both ways
and whole steps with the rule on and off, and leaves the rule as it found it."""

from __future__ import annotations

import json

from infogan.models import conv


def test_layers_and_steps_are_recorded(benchmark_script, tmp_path, mnist_dir, capsys):
    conv_paths = benchmark_script("conv_paths")
    rule = json.dumps({str(k): v for k, v in conv.GEMM_POSITIONS.items()})
    spread = set(conv.ONE_CHANNEL_SPREAD)
    record = tmp_path / "paths.json"
    args = [
        "--batch",
        "2",
        "--repeats",
        "1",
        "--dtypes",
        "bfloat16,float32",
        "--presets",
        "paper28",
    ]
    args += ["--rounds", "1", "--json", record, "--data-dir", mnist_dir]
    assert conv_paths.main([str(a) for a in args]) == 0
    report = json.loads(record.read_text())
    layers = report["layers"]
    assert len(layers) == 2 * 3 * len(conv_paths.LAYERS)
    assert all(row["onednn_ms"] > 0 and row["matmul_ms"] > 0 for row in layers)
    # the rule's column is the rule: seed64's 4x4 maps go through matrix products
    four = [r for r in layers if r["layer"] == "seed64 D conv 256->512 @8"]
    assert [r["rule_uses_matmul"] for r in four if r["dtype"] == "bfloat16"] == [True] * 3
    # and in fp32 seed64's G spreads onto its one-channel image by a product
    image = [r for r in layers if r["layer"] == "seed64 G convT 64->1 @32"]
    assert [r["rule_uses_matmul"] for r in image if r["dtype"] == "float32"] == [
        True, False, False,
    ]  # fmt: skip
    (step,) = report["steps"]
    assert step["preset"] == "paper28" and step["batch"] == 128
    on, off = step["seconds_per_step_matmul_rule"], step["seconds_per_step_onednn_only"]
    assert on > 0 and off > 0 and abs(step["speedup"] - off / on) < 0.01
    assert json.dumps({str(k): v for k, v in conv.GEMM_POSITIONS.items()}) == rule
    assert spread == conv.ONE_CHANNEL_SPREAD
    assert "paper28 (bf16, batch 128)" in capsys.readouterr().out
