import numpy as np
import torch
from PIL import Image

from infogan.grids import make_grid, save_grid


def test_grid_geometry_and_pixel_placement():
    images = -torch.ones(12, 1, 4, 5)
    images[7] = 1.0  # row 1, column 2 with nrow=5
    grid = make_grid(images, nrow=5, padding=2)
    assert grid.shape == (3 * 6 + 2, 5 * 7 + 2) and grid.dtype == np.uint8
    y, x = 2 + 1 * 6, 2 + 2 * 7
    assert (grid[y : y + 4, x : x + 5] == 255).all()
    assert (grid[2:6, 2:7] == 0).all()  # image 0: black
    assert (grid[0:2, :] == 255).all()  # padding
    assert (grid[2 + 2 * 6 : 2 + 2 * 6 + 4, 2 + 2 * 7 : 2 + 2 * 7 + 5] == 255).all()  # empty slot


def test_values_map_linearly_to_bytes():
    images = torch.tensor([-1.0, 0.0, 1.0, 5.0]).view(4, 1, 1, 1)
    grid = make_grid(images, nrow=4, padding=0)
    assert grid.tolist() == [[0, 128, 255, 255]]


def test_save_grid_writes_a_png(tmp_path):
    path = save_grid(torch.rand(100, 1, 8, 8) * 2 - 1, tmp_path / "sub" / "g.png")
    with Image.open(path) as img:
        assert img.size == (10 * 10 + 2, 10 * 10 + 2) and img.mode == "L"
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]


def test_rgb_grids_keep_three_channels():
    assert make_grid(torch.zeros(4, 3, 2, 2), nrow=2).shape == (2 * 4 + 2, 2 * 4 + 2, 3)
