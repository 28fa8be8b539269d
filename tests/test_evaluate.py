"""The MNIST classifier and the metrics on real digits whose answers are known; sampling;
``evaluate`` on a briefly trained model; ``infogan sample`` and ``infogan eval`` end to end.

The classifier is the real one that ships with the package.
"""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from infogan.api import load_model
from infogan.data import FASHION_MNIST, load_mnist_arrays, to_training_tensor
from infogan.errors import CheckpointError
from infogan.evaluate import classifier as clf
from infogan.evaluate import (
    eval_json_path,
    evaluate_run,
    format_table,
    metrics,
    sample_prior,
    sweep_code,
    to_json,
)
from infogan.evaluate.table import summary_line


@pytest.fixture(scope="module")
def judge_net():
    return clf.get_classifier()


@pytest.fixture(scope="module")
def test_set(mnist_dir):
    """Raw uint8 test digits (10000, 28, 28) and their labels."""
    return load_mnist_arrays(mnist_dir, "test")


@pytest.fixture(scope="module")
def judged_test_64(judge_net, test_set):
    """The classifier's reading of the test digits as the 64x64 model sees them."""
    images, _ = test_set
    return clf.judge(judge_net.model, to_training_tensor(images, 64))


# --- the classifier ----------------------------------------------------------


def test_classifier_reaches_99_percent_on_the_test_set(judge_net, test_set):
    images, labels = test_set
    acc = clf.accuracy(judge_net.model, clf.uint8_to_input(images), labels)
    assert acc >= 0.99
    assert acc == pytest.approx(judge_net.test_accuracy, abs=1e-9)  # as its file records
    assert judge_net.shipped and judge_net.digest == clf.shipped_digests()["mnist.safetensors"]


def test_resampling_to_28(test_set):
    images, _ = test_set
    x28 = clf.uint8_to_input(images[:50])
    assert torch.equal(clf.to_classifier_input(x28), x28)  # 28x28 passes through untouched
    back = clf.to_classifier_input(to_training_tensor(images[:50], 64))
    assert back.shape == (50, 1, 28, 28)
    assert (back - x28).abs().mean() < 0.1  # 28 -> 64 -> 28 keeps the digit


def test_a_classifier_file_round_trips_and_foreign_files_get_one_line(
    judge_net, tmp_path, test_set
):
    path = tmp_path / "mine.safetensors"
    digest = clf.save_classifier(
        judge_net.model, path, dataset="mnist", test_accuracy=0.5, seconds=1.0
    )
    loaded = clf.get_classifier(path=path)
    assert loaded.digest == digest and loaded.test_accuracy == 0.5 and not loaded.shipped
    x = clf.uint8_to_input(test_set[0][:20])
    assert np.array_equal(clf.judge(loaded.model, x).probs, clf.judge(judge_net.model, x).probs)
    with pytest.raises(CheckpointError, match="judges mnist, not fashion-mnist"):
        clf.get_classifier(FASHION_MNIST, path=path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable classifier file"):
        clf.get_classifier(path=path)
    with pytest.raises(CheckpointError, match="no such classifier file"):
        clf.get_classifier(path=tmp_path / "missing.safetensors")


def test_a_shipped_file_that_fails_its_digest_is_refused(judge_net, tmp_path, monkeypatch):
    for name in ("mnist.safetensors", clf.DIGESTS):
        (tmp_path / name).write_bytes((clf.SHIPPED / name).read_bytes())
    monkeypatch.setattr(clf, "SHIPPED", tmp_path)
    assert clf.get_classifier().digest == judge_net.digest  # the copy is the same file
    clf.save_classifier(judge_net.model, tmp_path / "mnist.safetensors", dataset="mnist",
                        test_accuracy=0.1, seconds=0)  # fmt: skip
    with pytest.raises(CheckpointError, match="reinstall infogan"):
        clf.get_classifier()


def test_training_learns_and_is_deterministic(mnist_dir, test_set):
    x, y = load_mnist_arrays(mnist_dir, "train")
    images, labels = clf.uint8_to_input(x[:2000]), torch.from_numpy(y[:2000])
    model = clf.train_classifier(images, labels, epochs=1, batch_size=32, progress=False)
    assert clf.accuracy(model, clf.uint8_to_input(test_set[0][:1000]), test_set[1][:1000]) > 0.85
    a = clf.train_classifier(images[:256], labels[:256], epochs=1, seed=5, progress=False)
    b = clf.train_classifier(images[:256], labels[:256], epochs=1, seed=5, progress=False)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


# --- the metrics on real digits whose answers are known --------------------------


def test_real_digits_with_their_labels_score_as_perfect_generated_digits(judged_test_64, test_set):
    labels = test_set[1]
    acc, mapping, confusion = metrics.hungarian_accuracy(labels, judged_test_64.labels)
    assert acc >= 0.98
    assert mapping.tolist() == list(range(10))  # code d is matched to digit d
    assert np.all(metrics.purity(confusion) >= 0.95)


def test_shuffled_labels_score_chance(judged_test_64, test_set):
    shuffled = np.random.default_rng(0).permutation(test_set[1])
    acc, _, _ = metrics.hungarian_accuracy(shuffled, judged_test_64.labels)
    assert 0.08 < acc < 0.13  # 1 in 10, plus what the best matching picks from noise


def test_frechet_distance_of_real_digits_and_of_noise(judged_test_64, judge_net):
    feats = judged_test_64.features
    stats = metrics.feature_statistics(feats)
    assert metrics.frechet_distance(*stats, *stats) < 1e-6
    halves = metrics.frechet_distance(
        *metrics.feature_statistics(feats[:5000]), *metrics.feature_statistics(feats[5000:])
    )
    noise = torch.rand(2000, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    noise_feats = clf.judge(judge_net.model, noise).features
    to_noise = metrics.frechet_distance(*metrics.feature_statistics(noise_feats), *stats)
    assert halves < 0.05 * to_noise  # two halves of MNIST are near; noise is far
    blank = clf.judge(judge_net.model, -torch.ones(500, 1, 64, 64)).features
    blank_stats = metrics.feature_statistics(blank)  # one point: zero covariance
    assert metrics.frechet_distance(*blank_stats, *stats) > 20 * halves


def test_inception_score_of_real_digits_and_of_noise(judged_test_64, judge_net):
    assert 9.0 < metrics.inception_score(judged_test_64.probs) <= 10.0
    noise = torch.rand(1000, 1, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert metrics.inception_score(clf.judge(judge_net.model, noise).probs) < 3.0


# --- a briefly trained model -----------------------------------------------------


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory, tiny_run):
    """A copy of the session's tiny run, for the tests that write its eval.json (the
    session's own run stays as trained: other tests read it without one)."""
    return shutil.copytree(tiny_run, tmp_path_factory.mktemp("eval") / "run")


def test_sample_prior_layout_and_determinism(tiny_run):
    model = load_model(tiny_run)
    s = sample_prior(model, per_category=3, seed=7)
    assert s.images.shape == (30, 1, 64, 64) and s.images.dtype == np.float32
    assert s.images.min() >= -1 and s.images.max() <= 1
    assert s.categories.dtype == np.int64
    assert s.categories.tolist() == [k for k in range(10) for _ in range(3)]
    assert s.continuous.shape == (30, 2) and s.continuous.dtype == np.float32
    assert np.abs(s.continuous).max() <= 1 and s.continuous.std() > 0.2
    assert s.noise.shape == (30, 52) and s.noise.dtype == np.float32
    # the images are the generator's output for exactly those codes
    again = model.generate(s.categories, s.continuous, noise=torch.from_numpy(s.noise))
    assert np.allclose(again.numpy(), s.images, atol=1e-5)
    assert np.array_equal(sample_prior(model, per_category=3, seed=7).noise, s.noise)
    assert not np.array_equal(sample_prior(model, per_category=3, seed=8).noise, s.noise)


def test_sweep_holds_all_but_the_swept_code(tiny_run):
    model = load_model(tiny_run)
    sweep = sweep_code(model, 1, draws=4, values=3, seed=2)
    assert sweep.images.shape == (4, 3, 1, 64, 64)
    assert sweep.values.tolist() == [-1.0, 0.0, 1.0]
    assert sweep.categories.tolist() == [0, 1, 2, 3]
    gen = torch.Generator().manual_seed(2)
    noise = torch.randn(4, 52, generator=gen)
    direct = model.generate([2], [[0.0, 1.0]], noise=noise[2:3])  # draw 2, c2 = +1
    assert np.allclose(direct.numpy()[0], sweep.images[2, 2], atol=1e-5)


def test_evaluate_run_writes_every_group(evaluated_run, mnist_dir):
    result, path = evaluate_run(
        evaluated_run / "checkpoints" / "last.pt",
        data_dir=mnist_dir,
        per_category=20,
        test_digits=500,
        sweep_draws=10,
        sweep_values=3,
        progress=False,
    )
    assert path == evaluated_run / "eval.json"
    saved = json.loads(path.read_text())
    assert saved["step"] == 3 and saved["counts"]["generated"] == 200
    assert sorted(saved["category_to_digit"]) == list(range(10))
    assert np.sum(saved["confusion_matrix"]) == 500
    assert np.sum(saved["generated_confusion_matrix"]) == 200
    assert 0 <= saved["unsupervised_accuracy"] <= 1 and 0 <= saved["generated_accuracy"] <= 1
    assert len(saved["purity"]) == 10
    assert saved["frechet_distance"] > saved["frechet_distance_train_vs_test"] >= 0
    assert 1 <= saved["inception_score"] <= 10
    assert saved["entropy_nats"] == pytest.approx(math.log(10))
    assert saved["info_bound_nats"] <= saved["entropy_nats"]
    assert [c["code"] for c in saved["continuous"]] == ["c1", "c2"]
    for code in saved["continuous"]:
        assert set(code["spearman"]) == {"rotation", "width"}
        assert code["controls"] in {"rotation", "width", "none"}

    # group 1 recomputed by hand from Q's own reading of the same 500 digits
    model = load_model(evaluated_run)
    images, labels = load_mnist_arrays(mnist_dir, "test")
    logits, _ = model.q_predict(to_training_tensor(images[:500], 64))
    confusion = metrics.confusion_matrix(logits.argmax(1).numpy(), labels[:500], 10, 10)
    assert saved["confusion_matrix"] == confusion.tolist()
    assert saved["unsupervised_accuracy"] == pytest.approx(
        metrics.matched_accuracy(confusion, metrics.hungarian_match(confusion))
    )

    table = format_table(result)
    for group in ("1. Unsupervised", "2. Generated", "3. Sample quality", "4. Information", "5."):
        assert group in table
    # categorical codes by number ("code 3"), so that c1 and c2 mean the continuous codes
    assert "code 0 " in table and f"0->{result['category_to_digit'][0]}" in table
    assert "c0" not in table and "c9" not in table
    # the summary's percentage rounds as the table does: 1911 of 2000 is 0.956 and 95.6%
    tied = dict(result, unsupervised_accuracy=1911 / 2000)
    assert "   accuracy          0.956\n" in format_table(tied)
    assert "digit on 95.6% of" in summary_line(tied)


def test_json_has_no_nan():
    text = to_json({"purity": [float("nan"), 0.5], "x": np.float64(2.0)})
    assert json.loads(text) == {"purity": [None, 0.5], "x": 2.0}


def test_eval_json_path(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").touch()
    (tmp_path / "loose.pt").touch()
    assert eval_json_path(run) == run / "eval.json"
    assert eval_json_path(run / "checkpoints" / "last.pt") == run / "eval.json"
    assert eval_json_path(tmp_path / "loose.pt") == tmp_path / "eval.json"
    # an older checkpoint of a run keeps its own, beside it: the run's stays the run's
    older = run / "checkpoints" / "step_000010.pt"
    assert eval_json_path(older) == run / "checkpoints" / "step_000010.eval.json"


def test_an_older_checkpoints_evaluation_leaves_the_runs_alone(tmp_path, tiny_run, mnist_dir):
    """Evaluating checkpoints/step_N.pt writes step_N.eval.json; the run's eval.json (and
    what reads it: by-digit grids, the explorer, the API) still describes the run."""
    from infogan.evaljson import read_evaluation

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    last = load_model(run).step
    older = run / "checkpoints" / "step_000001.pt"
    shutil.copyfile(run / "checkpoints" / "last.pt", older)  # as the run would keep one
    (run / "eval.json").write_text(json.dumps({"step": last, "category_to_digit": list(range(10))}))
    quick = dict(data_dir=mnist_dir, per_category=2, test_digits=50, sweep_draws=2, progress=False)
    _result, path = evaluate_run(older, **quick)
    assert path == run / "checkpoints" / "step_000001.eval.json"
    assert json.loads((run / "eval.json").read_text())["step"] == last  # untouched
    assert read_evaluation(run, last)[1] is None and read_evaluation(older, last)[1] is None
    stale, why = read_evaluation(older, last + 1)
    assert stale == {} and why == (
        f"{path}: measured step {last}, the model is at step {last + 1}; run "
        f"`infogan eval {older}` again"
    )


# --- the commands ----------------------------------------------------------------


def test_sample_command_writes_the_npz(tiny_run, tmp_path, main_run):
    out_file = tmp_path / "s.npz"
    out = main_run("sample", tiny_run, "--out", out_file, "--per-category", "4")
    assert out.returncode == 0, out.stderr
    with np.load(out_file) as npz:
        assert sorted(npz.files) == ["categories", "continuous", "images", "noise"]
        assert npz["images"].shape == (40, 1, 64, 64) and npz["images"].dtype == np.float32
        assert npz["categories"].dtype == np.int64
        assert np.bincount(npz["categories"]).tolist() == [4] * 10
        assert npz["continuous"].shape == (40, 2) and npz["continuous"].dtype == np.float32
        assert npz["noise"].shape == (40, 52)


@pytest.mark.slow
def test_eval_command_prints_five_groups_and_writes_json(evaluated_run, mnist_dir, main_run):
    common = ["--per-category", "10", "--test-digits", "300", "--sweep-draws", "10"]
    common += ["--sweep-values", "3", "--no-progress", "--data-dir", mnist_dir]
    out = main_run("eval", evaluated_run, *common)
    assert out.returncode == 0, out.stderr
    for group in (
        "1. Unsupervised test accuracy",
        "2. Generated-category accuracy",
        "3. Sample quality",
        "4. Information bound",
        "5. Continuous codes",
    ):
        assert group in out.stdout
    assert "Frechet distance" in out.stdout and "H(c) = ln 10" in out.stdout
    assert f"wrote {evaluated_run / 'eval.json'}" in out.stderr
    as_json = main_run("eval", evaluated_run, "--json", *common)
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["counts"]["test_digits"] == 300
    # the last line sums it up, with the numbers of the groups above
    last = out.stdout.strip().splitlines()[-1]
    table = next(line.split()[1] for line in out.stdout.splitlines() if "   accuracy " in line)
    share = f"{100 * float(table):.1f}%"  # group 1's number, as the table rounds it
    assert last.startswith(f"summary: categorical code = digit on {share} of 300 MNIST test")
    for code in result["continuous"]:
        assert f"{code['code']} controls " in last


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["sample", "RUN", "--out", "x.png"], "--out must name a .npz file"),
        (["sample", "RUN", "--out", "x.npz", "--per-category", "0"], "--per-category must be"),
        (["eval", "RUN", "--per-category", "-1"], "--per-category must be a positive integer"),
        (["eval", "RUN", "--sweep-values", "1"], "--sweep-values must be an integer >= 2"),
        (["sample", "RUN", "--out", "x.npz", "--seed", "-1"], "--seed must be in [0, 2^63)"),
        (["eval", "NOWHERE"], "no such file or directory"),
    ],
)
def test_command_mistakes_give_one_line(args, fragment, tiny_run, tmp_path, main_error):
    args = [tiny_run if a == "RUN" else a for a in args]
    args = [tmp_path / a if a in ("x.png", "x.npz", "NOWHERE") else a for a in args]
    assert fragment in main_error(*args)
    # a refused command writes nothing: no samples, no eval.json in the run
    assert not any(tmp_path.iterdir()) and not (tiny_run / "eval.json").exists()


def test_sample_prior_bounds_per_category_before_drawing(tiny_run):
    from infogan.cli.models import MAX_PER_CATEGORY as SAID_IN_HELP
    from infogan.errors import ConfigError
    from infogan.evaluate.sampling import MAX_PER_CATEGORY

    assert SAID_IN_HELP == MAX_PER_CATEGORY == 10_000
    model = load_model(tiny_run)
    with pytest.raises(ConfigError, match=r"at most 10,000 \(every digit is held in memory\)"):
        sample_prior(model, per_category=1_000_000_000)
    assert len(sample_prior(model, per_category=1).categories) == 10


def test_evaluate_refuses_more_digits_than_there_are(tiny_run, mnist_dir):
    """The library refuses what the command refuses: the memory bound at once, and more
    test digits than the test set holds once its size is known (before any model pass)."""
    from infogan.errors import ConfigError
    from infogan.evaluate import evaluate

    model = load_model(tiny_run)
    with pytest.raises(ConfigError, match="--per-category must be at most 10,000"):
        evaluate(model, data_dir=mnist_dir, per_category=10_001, progress=False)
    with pytest.raises(ConfigError, match=r"at most 10,000, the size of the test set; got 20,000"):
        evaluate(model, data_dir=mnist_dir, test_digits=20_000, progress=False)
    with pytest.raises(ConfigError, match=r"at most 100,000 images .*got 1,000,000 x 9"):
        evaluate(model, data_dir=mnist_dir, sweep_draws=1_000_000, progress=False)
