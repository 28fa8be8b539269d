"""The running average of G's weights (``train.g_average``): its update rule, and a real
run that samples, saves, resumes and loads with it."""

import pytest
import torch
from torch import nn

from infogan.api import load_model
from infogan.checkpoint import load_checkpoint
from infogan.training.average import GeneratorAverage
from infogan.training.run import resume, train


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_update_follows_the_warmed_up_exponential_average():
    g = _net()
    avg = GeneratorAverage(g, decay=0.9)
    expected = [p.detach().clone() for p in g.parameters()]
    for n in range(30):
        with torch.no_grad():
            for p in g.parameters():
                p.add_(torch.randn_like(p))
        g(torch.randn(5, 3))  # moves BatchNorm's running statistics
        avg.update()
        keep = min(0.9, (1 + n) / (10 + n))
        pairs = zip(expected, g.parameters(), strict=True)
        expected = [keep * e + (1 - keep) * p.detach() for e, p in pairs]
    for mine, want in zip(avg.module.parameters(), expected, strict=True):
        torch.testing.assert_close(mine, want)
    assert not any(p.requires_grad for p in avg.module.parameters())
    # the running statistics are G's own, not averaged
    for mine, source in zip(avg.module.buffers(), g.buffers(), strict=True):
        assert torch.equal(mine, source)
    # and the average is not G
    assert not torch.equal(avg.module[0].weight, g[0].weight)


def test_restart_takes_the_generator_as_it_is():
    g = _net()
    avg = GeneratorAverage(g, decay=0.99)
    with torch.no_grad():
        g[0].weight.mul_(3)
    avg.update()
    assert not torch.equal(avg.module[0].weight, g[0].weight)
    avg.restart()
    assert torch.equal(avg.module[0].weight, g[0].weight) and avg.updates == 0


@pytest.fixture(scope="module")
def averaged_run(tmp_path_factory, digits_28, tiny_config):
    config = tiny_config("paper28", steps=6, batch_size=16, g_average=0.9)
    config = config.with_train(checkpoint_every=3, keep_checkpoints=5)
    run = tmp_path_factory.mktemp("average") / "run"
    images = digits_28[0][:512]
    train(config, run, images=images, progress=False, log=lambda _m: None)
    return config, run, images


def test_a_run_saves_the_average_and_its_model_samples_with_it(averaged_run):
    _config, run, _images = averaged_run
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    average = state["generator_average"]
    assert average["updates"] == 6
    key = next(k for k in average["weights"] if k.endswith("weight"))
    assert not torch.equal(average["weights"][key], state["generator"][key])
    model = load_model(run)
    torch.testing.assert_close(model.generator.state_dict()[key], average["weights"][key])
    # the grids are the average's: the last fixed-noise grid is what it draws
    assert (run / "images" / "fixed" / "000006.png").is_file()


def test_resume_continues_the_average_exactly(averaged_run, tmp_path):
    config, run, images = averaged_run
    half = tmp_path / "half"
    train(config.with_train(max_steps=3), half, images=images, progress=False, log=lambda _m: None)
    resume(half, max_steps=6, images=images, progress=False, log=lambda _m: None)
    resumed = load_checkpoint(half / "checkpoints" / "last.pt")["generator_average"]
    straight = load_checkpoint(run / "checkpoints" / "last.pt")["generator_average"]
    assert resumed["updates"] == straight["updates"] == 6
    for key, value in straight["weights"].items():
        assert torch.equal(resumed["weights"][key], value), key


def test_export_ships_the_average(averaged_run, tmp_path):
    from infogan.export import export_model

    _config, run, _images = averaged_run
    average = load_checkpoint(run / "checkpoints" / "last.pt")["generator_average"]["weights"]
    exported = load_model(export_model(run, tmp_path / "shared"))
    for key, value in exported.generator.state_dict().items():
        torch.testing.assert_close(value, average[key], msg=key)
