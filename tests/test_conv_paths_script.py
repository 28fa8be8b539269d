"""benchmarks/conv_paths.py times each direction of the networks' convolutions every way
and whole steps with the rules on and off, and leaves the rules as it found them."""

from __future__ import annotations

import json

from infogan.models import conv, kernels


def test_layers_and_steps_are_recorded(benchmark_script, tmp_path, mnist_dir, capsys):
    conv_paths = benchmark_script("conv_paths")
    rule = json.dumps({str(k): v for k, v in conv.GEMM_POSITIONS.items()})
    spread = set(conv.ONE_CHANNEL_SPREAD)
    winograd = dict(conv.WINOGRAD_POSITIONS)
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
    args += ["--step-precisions", "fp32", "--rounds", "1", "--json", record]
    args += ["--data-dir", mnist_dir]
    assert conv_paths.main([str(a) for a in args]) == 0
    report = json.loads(record.read_text())
    layers = report["layers"]
    assert len(layers) == 2 * 3 * len(conv_paths.LAYERS)
    assert all(row["onednn_ms"] > 0 and row["matmul_ms"] > 0 for row in layers)
    # the rules' column is the rules: seed64's 4x4 maps go through matrix products in
    # bf16, Winograd's algorithm in fp32 (where its kernels can be had), and seed64's G
    # spreads onto its one-channel image by a product in fp32
    four = [r for r in layers if r["layer"] == "seed64 D conv 256->512 @8"]
    assert [r["rule"] for r in four if r["dtype"] == "bfloat16"] == ["matmul"] * 3
    fp32 = "winograd" if kernels.has_cpu_flag("avx2") else "matmul"
    assert [r["rule"] for r in four if r["dtype"] == "float32"] == [fp32] * 3
    assert all((r["winograd_ms"] is None) == (r["dtype"] == "bfloat16") for r in four)
    image = [r for r in layers if r["layer"] == "seed64 G convT 64->1 @32"]
    assert [r["rule"] for r in image if r["dtype"] == "float32"] == ["matmul", "oneDNN", "oneDNN"]
    assert all(r["winograd_ms"] is None for r in image)  # one channel: not timed
    (step,) = report["steps"]
    assert (step["preset"], step["precision"], step["batch"]) == ("paper28", "fp32", 128)
    on, off = step["seconds_per_step_rules"], step["seconds_per_step_onednn_only"]
    assert on > 0 and off > 0 and abs(step["speedup"] - off / on) < 0.01
    assert json.dumps({str(k): v for k, v in conv.GEMM_POSITIONS.items()}) == rule
    assert spread == conv.ONE_CHANNEL_SPREAD and winograd == conv.WINOGRAD_POSITIONS
    assert "paper28 (fp32, batch 128)" in capsys.readouterr().out


def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, script_error):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert "unknown dtype 'nope'" in script_error("conv_paths", "--dtypes", "float32,nope")
    assert "unknown preset 'nope'" in script_error("conv_paths", "--presets", "nope")
    assert "unknown precision 'fp8'" in script_error("conv_paths", "--step-precisions", "fp8")
    for flag in ("--batch", "--repeats", "--rounds"):
        assert f"argument {flag}: must be a positive" in script_error("conv_paths", flag, 0)
    line = script_error("conv_paths", "--json", blocker / "paths.json")
    assert line.endswith(f"{blocker} is not a directory")
