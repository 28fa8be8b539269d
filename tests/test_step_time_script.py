"""benchmarks/step_time.py times a preset's real training step on real digits."""

from __future__ import annotations

import json


def test_one_timed_and_one_profiled_step_are_recorded(
    benchmark_script, tmp_path, mnist_dir, capsys
):
    step_time = benchmark_script("step_time")
    record = tmp_path / "steps.json"
    args = ["--presets", "quick28", "--precisions", "fp32", "--steps", "1", "--warmup", "0"]
    args += ["--profile", "1", "--top", "5"]
    args += ["--json", record, "--data-dir", mnist_dir]
    assert step_time.main([str(a) for a in args]) == 0
    (row,) = json.loads(record.read_text())["rows"]
    assert (row["preset"], row["precision"], row["max_steps"]) == ("quick28", "fp32", 1400)
    assert row["seconds_per_step"] > 0
    projected = row["seconds_per_step"] * 1400 / 60
    assert abs(row["projected_training_minutes"] - projected) < 0.02
    out = capsys.readouterr().out
    assert out.startswith("quick28    fp32 ")
    # where the profiled step's time went: the networks' products lead, longest first,
    # and the operators' times make up most of a step
    ops = row["operators"]
    times = [op["ms_per_step"] for op in ops]
    assert times == sorted(times, reverse=True) and times[0] > 0
    names = [op["operator"] for op in ops]
    assert {"convolution", "convolution_backward", "addmm"} <= set(names)
    assert set(names[:3]) & {"convolution", "convolution_backward", "addmm", "mm"}
    assert 0.4 < sum(times) / 1000 / row["seconds_per_step"] < 2.5
    assert "all operators (profiled step)" in out and len(out.splitlines()) == 1 + 1 + 5 + 1 + 1


def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, script_error):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert "unknown preset 'nope'" in script_error("step_time", "--presets", "quick28,nope")
    assert "unknown precision 'fp16'" in script_error("step_time", "--precisions", "fp16")
    for flag, value in (("--steps", 0), ("--warmup", -1), ("--profile", -1), ("--top", 0)):
        assert f"argument {flag}: must be" in script_error("step_time", flag, value)
    # the record's folder is checked before the steps, not after them
    line = script_error("step_time", "--json", blocker / "steps.json")
    assert line.endswith(f"{blocker} is not a directory")
