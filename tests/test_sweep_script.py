"""benchmarks/sweep.py runs quality.py per candidate and seed, and tabulates them."""

from __future__ import annotations

import json


def test_a_candidate_over_a_seed_is_tabulated_with_where_it_ran(
    benchmark_script, tmp_path, mnist_dir, capsys
):
    sweep = benchmark_script("sweep")
    candidates = tmp_path / "candidates.json"
    candidates.write_text(json.dumps({"half-batch": ["train.batch_size=64"]}))
    args = [candidates, "--seeds", "1", "--max-steps", "2", "--eval-every", "1", "--at", "1,2"]
    args += ["--device", "cpu", "--out", tmp_path / "runs", "--data-dir", mnist_dir]
    assert sweep.main([str(a) for a in args]) == 0
    record = json.loads((tmp_path / "runs" / "sweep.json").read_text())
    assert record["machine"] and record["torch"] and record["at"] == [1, 2]
    entry = record["candidates"]["half-batch"]
    assert entry["precision"] in ("fp32", "bf16")
    assert [len(accs) for accs in entry["at"].values()] == [1, 1]
    assert "half-batch" in capsys.readouterr().out


def test_bad_arguments_are_refused_in_one_line_before_any_run(tmp_path, script_error):
    import torch

    good = tmp_path / "good.json"
    good.write_text(json.dumps({"base": []}))
    out = ["--out", tmp_path / "runs"]
    # --parallel 0 used to wait forever for a free slot
    line = script_error("sweep", good, "--parallel", "0", *out)
    assert line.endswith("--parallel: must be a positive integer, got 0")
    for flag in ("--seeds", "--max-steps", "--eval-every", "--threads"):
        assert f"argument {flag}: must be a positive" in script_error("sweep", good, flag, 0)
    assert "--at: expected an integer, got 'x'" in script_error("sweep", good, "--at", "x,2")
    assert "unknown preset 'nope'" in script_error("sweep", good, "--preset", "nope")
    # a candidates file of another shape, or a setting no run would take
    for name, content in (("list", []), ("text", {"a": "train.batch_size=64"})):
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
        line = script_error("sweep", tmp_path / f"{name}.json", *out)
        assert "not a readable JSON file of candidates" in line
    (tmp_path / "typo.json").write_text(json.dumps({"a": ["train.nope=1"]}))
    line = script_error("sweep", tmp_path / "typo.json", *out)
    assert "candidate 'a': unknown setting 'train.nope'" in line
    if not torch.cuda.is_available():
        line = script_error("sweep", good, "--device", "cuda", *out)
        assert "CUDA is not available" in line
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = script_error("sweep", good, "--json", blocker / "sweep.json", *out)
    assert line.endswith(f"{blocker} is not a directory")
    assert not (tmp_path / "runs").exists()
