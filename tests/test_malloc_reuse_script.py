"""benchmarks/malloc_reuse.py times a real step in fresh processes, with freed memory kept
and with glibc's defaults, and records both."""

from __future__ import annotations

import json


def test_both_arms_are_timed_in_their_own_processes(benchmark_script, tmp_path, mnist_dir, capsys):
    malloc_reuse = benchmark_script("malloc_reuse")
    record = tmp_path / "malloc.json"
    args = ["--presets", "paper28", "--precisions", "fp32", "--rounds", "1", "--steps", "1"]
    args += ["--warmup", "1", "--json", record, "--data-dir", mnist_dir]
    assert malloc_reuse.main([str(a) for a in args]) == 0
    report = json.loads(record.read_text())
    assert (report["rounds"], report["steps"], report["warmup"]) == (1, 1, 1)
    (row,) = report["rows"]
    keep, plain = row["keep"], row["glibc defaults"]
    for arm in (keep, plain):
        assert arm["seconds_per_step"] > 0 and arm["page_faults_per_step"] >= 0
        assert arm["max_rss_mb"] > 100  # torch, the networks and 60,000 digits
    speedup = plain["seconds_per_step"] / keep["seconds_per_step"]
    assert abs(row["speedup"] - speedup) < 0.01 * speedup
    assert capsys.readouterr().out.startswith("paper28 fp32: ")


def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, script_error):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert "unknown preset 'nope'" in script_error("malloc_reuse", "--presets", "nope")
    assert "unknown precision 'fp16'" in script_error("malloc_reuse", "--precisions", "fp16")
    for flag, value in (("--rounds", 0), ("--steps", 0), ("--warmup", -1)):
        assert f"argument {flag}: must be" in script_error("malloc_reuse", flag, value)
    line = script_error("malloc_reuse", "--json", blocker / "malloc.json")
    assert line.endswith(f"{blocker} is not a directory")
