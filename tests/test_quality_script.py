"""benchmarks/quality.py: a real (tiny) run per seed, its report, and --merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from sweep import accuracy_at  # noqa: E402


def test_quality_script_reports_each_seed_and_the_summary(tmp_path, mnist_dir, capsys):
    out = tmp_path / "q"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "quality.py"),
            "--preset",
            "restyle28",
            "--seeds",
            "1",
            "--split",
            "val",
            "--holdout",
            "500",
            "--max-steps",
            "4",
            "--eval-every",
            "2",
            "--out",
            str(out),
            "--data-dir",
            str(mnist_dir),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "seed 0: acc " in result.stdout
    assert "restyle28 (val, 1 seeds): accuracy median" in result.stdout
    report = json.loads((out / "quality.json").read_text())
    # where it ran: the machine, the precision ``auto`` resolved to, and torch
    assert report["machine"] and report["device"] == "cpu" and report["torch"]
    assert report["precision"] in ("fp32", "bf16")
    seed = report["seeds"][0]
    assert [p["step"] for p in seed["curve"]] == [2, 4]
    assert 0 <= seed["unsupervised_accuracy"] <= 1
    assert set(seed["codes"]) == {"c1", "c2"}
    assert accuracy_at(seed["curve"], 3) == seed["curve"][0]["accuracy"]
    assert accuracy_at(seed["curve"], 5) is None

    # --merge joins the seeds of reports of one setting, also one written by an earlier
    # version (its config in that version's terms), and refuses another setting
    older = json.loads(json.dumps(report))
    older["seeds"][0]["seed"] = 1
    older["machine"] = "another machine"
    del older["config"]["train"]["readings"]
    older["config"]["train"].update(tilt_code=0, cluster_pairs=True, q_fixed_std=False)
    other = json.loads(json.dumps(older))
    other["config"]["train"]["lambda_cluster"] += 1
    for name, data in (("older", older), ("other", other)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))

    import quality  # the script's main, in this process (the run above went through a fresh one)

    def merge(*names):
        paths = [str(out / "quality.json"), *(str(tmp_path / f"{n}.json") for n in names)]
        code = quality.main(["--merge", *paths, "--json", str(tmp_path / "all.json")])
        out_err = capsys.readouterr()
        return subprocess.CompletedProcess(names, code, out_err.out, out_err.err)

    merged = merge("older")
    assert merged.returncode == 0, merged.stderr
    assert "restyle28 (val, 2 seeds)" in merged.stdout
    joined = json.loads((tmp_path / "all.json").read_text())
    assert [s["seed"] for s in joined["seeds"]] == [0, 1]
    assert joined["machine"] == "; ".join(sorted([report["machine"], "another machine"]))
    refused = merge("other")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("other.json: another preset, split or setting")


def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, script_error):
    import torch

    from infogan.config import get_preset

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert script_error("quality", "--seeds", "0").endswith(
        "--seeds: must be a positive integer, got 0"
    )
    assert script_error("quality", "--first-seed", "-1").endswith("must be 0 or more, got -1")
    assert "unknown preset 'nope'" in script_error("quality", "--preset", "nope")
    assert "unknown setting 'train.nope'" in script_error("quality", "--set", "train.nope=1")
    # a record that could not be written is refused now, not after hours of training
    line = script_error("quality", "--json", blocker / "q.json", "--out", tmp_path / "runs")
    assert line.endswith(f"{blocker} is not a directory")
    if not torch.cuda.is_available():
        line = script_error("quality", "--device", "cuda", "--out", tmp_path / "runs")
        assert "CUDA is not available" in line
    assert not (tmp_path / "runs").exists()

    # --merge: a file missing, or with seeds the merged report could not read
    good = {"preset": "start28", "split": "val", "config": get_preset("start28").to_dict()}
    for name, seeds in (("none", []), ("text", "x"), ("empty", [{}])):
        (tmp_path / f"{name}.json").write_text(json.dumps({**good, "seeds": seeds}))
        line = script_error(
            "quality", "--merge", tmp_path / f"{name}.json", "--json", tmp_path / "all.json"
        )
        assert f"{name}.json: not a readable quality.json" in line
    line = script_error(
        "quality", "--merge", tmp_path / "gone.json", "--json", tmp_path / "all.json"
    )
    assert "gone.json: not a readable quality.json" in line
    line = script_error(
        "quality", "--merge", tmp_path / "none.json", "--json", blocker / "all.json"
    )
    assert line.endswith("is not a directory")
    assert not (tmp_path / "all.json").exists()
