"""benchmarks/gpu_speed.py times the trainer's variants on a GPU; on a CPU (--device cpu)
it runs the same way, which is how the suite tries it."""

from __future__ import annotations

import json


def test_a_variant_is_timed_and_recorded_with_where_it_ran(
    benchmark_script, tmp_path, mnist_dir, capsys
):
    gpu_speed = benchmark_script("gpu_speed")
    record = tmp_path / "gpu.json"
    args = ["--device", "cpu", "--presets", "paper28", "--variants", "fp32", "--rounds", "1"]
    args += ["--steps", "1", "--warmup", "0", "--json", record, "--data-dir", mnist_dir]
    assert gpu_speed.main([str(a) for a in args]) == 0
    report = json.loads(record.read_text())
    assert report["machine"] and report["torch"]
    (result,) = report["results"]
    variant = result["variants"]["fp32"]
    assert variant["precision"] == "fp32" and variant["step"] == "eager"
    assert variant["images_per_s"] > 0 and result["steps_timed"] == 1
    assert "paper28  fp32" in capsys.readouterr().out


def test_help_says_what_it_compares(benchmark_script, capsys, monkeypatch):
    import pytest

    monkeypatch.setattr("sys.argv", ["gpu_speed.py"])
    with pytest.raises(SystemExit):
        benchmark_script("gpu_speed").main(["--help"])
    # the description's whole first sentence, not its first line
    assert "captured as a CUDA graph (and torch.compile)" in " ".join(
        capsys.readouterr().out.split()
    )


def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, script_error):
    import torch

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cpu = ["--device", "cpu"]
    assert "unknown device 'tpu'" in script_error("gpu_speed", "--device", "tpu")
    if not torch.cuda.is_available():
        assert script_error("gpu_speed").endswith("no CUDA device here")
    assert "unknown preset 'nope'" in script_error("gpu_speed", *cpu, "--presets", "nope")
    assert "unknown variant 'nope'" in script_error("gpu_speed", *cpu, "--variants", "nope")
    # 0 rounds divided by zero at the end; negative steps gave negative images/s
    for flag, value in (("--rounds", 0), ("--steps", -1), ("--warmup", -1)):
        assert f"argument {flag}: must be" in script_error("gpu_speed", *cpu, flag, value)
    line = script_error("gpu_speed", *cpu, "--json", blocker / "gpu.json")
    assert line.endswith(f"{blocker} is not a directory")
