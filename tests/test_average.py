"""The running average of G's weights (``train.g_average``): its update rule, the
BatchNorm statistics measured for it, and a real run that samples, saves, resumes and
loads with it."""

import pytest
import torch
from torch import nn

from infogan.api import load_model
from infogan.checkpoint import load_checkpoint
from infogan.config import LatentConfig
from infogan.latent import LatentCode
from infogan.training.average import CALIBRATION_BATCH, CALIBRATION_CODES, GeneratorAverage
from infogan.training.run import resume, train

#: a code of 3 values (one noise value, one category, one continuous) for the tiny net
CODE = LatentCode(LatentConfig(noise_dim=1, num_categories=1, num_continuous=1))


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_update_follows_the_warmed_up_exponential_average():
    g = _net()
    avg = GeneratorAverage(g, decay=0.9, code=CODE)
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
    # and the average is not G
    assert not torch.equal(avg.module[0].weight, g[0].weight)


def test_calibrate_measures_the_averages_own_batchnorm_statistics():
    g = _net()
    avg = GeneratorAverage(g, decay=0.9, code=CODE)
    with torch.no_grad():
        g[0].weight.mul_(5)
        g[0].bias.add_(2)
    g(torch.randn(64, 3))  # G's running statistics move; the average's are its own
    avg.update()
    g_buffers = [b.clone() for b in g.buffers()]
    rng = torch.get_rng_state()
    avg.calibrate()
    # the plain mean of each batch's statistics over the calibration codes, drawn anew
    draw = torch.Generator().manual_seed(0)
    means, variances = [], []
    with torch.no_grad():
        for _ in range(CALIBRATION_CODES // CALIBRATION_BATCH):
            x = avg.module[0](CODE.assemble(CODE.sample(CALIBRATION_BATCH, generator=draw)))
            means.append(x.mean(0))
            variances.append(x.var(0, unbiased=True))
    norm = avg.module[1]
    torch.testing.assert_close(norm.running_mean, torch.stack(means).mean(0))
    torch.testing.assert_close(norm.running_var, torch.stack(variances).mean(0))
    assert norm.momentum == 0.1 and avg.module.training  # put back as they were
    # G, its statistics and training's random stream are untouched
    assert all(torch.equal(a, b) for a, b in zip(g.buffers(), g_buffers, strict=True))
    assert torch.equal(torch.get_rng_state(), rng)
    # measured once for a set of weights, again after they move
    norm.running_mean.add_(1)
    avg.calibrate()
    torch.testing.assert_close(norm.running_mean, torch.stack(means).mean(0) + 1)
    avg.update()
    avg.calibrate()
    assert not torch.allclose(norm.running_mean, torch.stack(means).mean(0) + 1)
    # what is saved is measured
    saved = avg.state_dict()["weights"]
    assert torch.equal(saved["1.running_mean"], norm.running_mean)


def test_restart_takes_the_generator_as_it_is():
    g = _net()
    avg = GeneratorAverage(g, decay=0.99, code=CODE)
    with torch.no_grad():
        g[0].weight.mul_(3)
    avg.update()
    assert not torch.equal(avg.module[0].weight, g[0].weight)
    avg.restart()
    assert torch.equal(avg.module[0].weight, g[0].weight) and avg.updates == 0


def test_the_average_measures_alone_where_g_has_torchruns_global_batchnorm(tmp_path):
    import torch.distributed as dist

    from infogan.distributed import convert_batchnorm

    g = convert_batchnorm(_net(), torch.device("cpu"))  # --sync-bn's layers
    plain = GeneratorAverage(_net(), decay=0.9, code=CODE)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        avg = GeneratorAverage(g, decay=0.9, code=CODE)
        avg.calibrate()  # a global layer would all-reduce, and skip the plain mean's update
    finally:
        dist.destroy_process_group()
    plain.calibrate()
    assert type(avg.module[1]).__name__ == "_LocalBatchNorm"
    for key, value in plain.module.state_dict().items():
        torch.testing.assert_close(avg.module.state_dict()[key], value, msg=key)
    avg.restart()  # G's state loads into the plain layers
    torch.testing.assert_close(avg.module[1].running_var, g[1].running_var)


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
    # with BatchNorm statistics measured for the average, not G's
    stats = [k for k in average["weights"] if k.endswith("running_mean")]
    assert stats and all(
        not torch.equal(average["weights"][k], state["generator"][k]) for k in stats
    )
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
