"""benchmarks/throughput.py times the trainer against the textbook loop, which runs in a
process of its own, and records the ratio."""

from __future__ import annotations

import json


def test_trainer_and_textbook_loop_are_timed_side_by_side(
    benchmark_script, tmp_path, mnist_dir, capsys
):
    throughput = benchmark_script("throughput")
    record = tmp_path / "throughput.json"
    args = ["--quick", "--presets", "paper28", "--precision", "fp32", "--rounds", "1"]
    args += ["--steps", "1", "--json", record, "--data-dir", mnist_dir]
    assert throughput.main([str(a) for a in args]) == 0
    (row,) = json.loads(record.read_text())["results"]
    assert (row["preset"], row["project_precision"], row["steps_timed"]) == ("paper28", "fp32", 1)
    assert row["project_images_per_s"] > 0 and row["reference_images_per_s"] > 0
    ratio = row["project_images_per_s"] / row["reference_images_per_s"]
    assert abs(row["ratio"] - ratio) < 0.01
    # paper28's G and D forward passes cost about 26 MFLOP an image each (the two 6,272 x
    # 1,024 products and the 7x7 <-> 14x14 convolution, 12.8 M apiece); a step runs G
    # forward twice and backward once (4 passes' worth), D forward four times, backward
    # twice with weight gradients and once without (9): 13 x 26 M x 128 = 43 GFLOP
    assert 40 < row["model_gflop_per_step"] < 48
    assert "paper28: " in capsys.readouterr().out


def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, script_error):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    record = tmp_path / "t.json"
    assert "unknown preset 'nope'" in script_error("throughput", "--presets", "nope")
    # 0 rounds used to mean the default, and negative steps a negative throughput
    line = script_error("throughput", "--rounds", "0", "--json", record)
    assert line.endswith("--rounds: must be a positive integer, got 0")
    line = script_error("throughput", "--steps", "-1", "--json", record)
    assert line.endswith("--steps: must be a positive integer, got -1")
    line = script_error("throughput", "--quick", "--json", blocker / "t.json")
    assert line.endswith(f"{blocker} is not a directory")
    assert not record.exists()
