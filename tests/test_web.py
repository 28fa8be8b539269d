"""The latent explorer over real HTTP: the real ``infogan serve`` in a subprocess on a free
loopback port, serving a tiny checkpoint trained on real MNIST."""

from __future__ import annotations

import io
import json
import signal
import socket
import threading
import time
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image

from infogan.api import load_model
from infogan.grids import to_uint8
from web_helpers import get, run_dir_with_eval, start_server

SIZE = 64  # the tiny run's image size
PAD = 2  # the explorer's grid padding


@pytest.fixture(scope="module")
def server(tiny_run):
    served = start_server(tiny_run)
    yield served
    served.stop()


def png(reply) -> np.ndarray:
    assert reply.status == 200, reply.body[:300]
    assert reply.content_type == "image/png"
    assert reply.body.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(reply.body)) as image:
        image.load()
        assert image.mode == "L"
        return np.asarray(image)


def api(server, path: str):
    return get(server.url + path.lstrip("/"))


# --- the page ------------------------------------------------------------------------


def test_start_line_names_a_loopback_url(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert "Ctrl-C" in server.stdout_lines[-1]


def test_page_and_its_files_load(server):
    page = api(server, "/")
    assert page.status == 200 and page.content_type.startswith("text/html")
    html = page.body.decode()
    assert "<title>InfoGAN latent explorer</title>" in html
    for asset, kind in [
        ("/static/explorer.js", "javascript"),
        ("/static/explorer.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ]:
        assert asset in html
        reply = api(server, asset)
        assert reply.status == 200 and kind in reply.content_type, asset
    for element in ('id="digit"', 'id="c1"', 'id="c2"', 'id="seed"', 'id="new-noise"'):
        assert element in html


def test_every_response_carries_the_security_headers(server):
    for path in (
        "/",
        "/static/index.html",
        "/static/explorer.js",
        "/api/info",
        "/api/generate",
        "/api/grid?steps=3",
        "/api/nothing",
    ):
        headers = api(server, path).headers
        assert headers["content-security-policy"].startswith("default-src 'self'"), path
        assert headers["x-content-type-options"] == "nosniff", path


def test_requests_for_another_host_are_refused(server):
    """A loopback server answers only to this machine's names: a page on another domain
    that rebinds its name to 127.0.0.1 gets 400, not the model."""
    port = server.url.rsplit(":", 1)[1].rstrip("/")
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.2", "[::2]:80"):
        reply = get(server.url + "api/info", headers={"Host": host})
        assert reply.status == 400, host
        assert json.loads(reply.body)["error"] == (
            f"Host '{host}' is not this server's; it answers to localhost, 127.0.0.1, [::1]"
        )
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST", f"[::1]:{port}"):
        assert get(server.url + "api/info", headers={"Host": host}).status == 200, host


def test_info_describes_the_model(server):
    reply = api(server, "/api/info")
    assert reply.status == 200 and reply.content_type == "application/json"
    info = json.loads(reply.body)
    assert info["preset"] == "seed64" and info["step"] == 3
    assert info["code"] == {"noise_dim": 52, "num_categories": 10, "num_continuous": 2}
    assert info["image_size"] == SIZE and info["grid_padding"] == PAD
    assert info["slider_range"] == [-2, 2] and info["training_range"] == [-1, 1]
    # No eval.json in this run: buttons are labelled by code index.
    assert info["category_to_digit"] is None
    assert info["labels"] == [str(i) for i in range(10)]
    assert info["order"] == list(range(10))
    generate = info["parameters"]["generate"]
    assert generate["seed"] == {
        "default": 0,
        "allowed": "an integer in [0, 2147483647]",
        "doc": "seed of the noise vector z",
    }
    assert generate["scale"]["default"] == 8
    assert info["parameters"]["grid"]["vary"]["allowed"] == "one of category, c1, c2"


# --- PNG endpoints -------------------------------------------------------------------


@pytest.mark.parametrize(("query", "side"), [("", 8 * SIZE), ("scale=1", SIZE), ("scale=3", 192)])
def test_generate_returns_a_png_of_the_requested_size(server, query, side):
    pixels = png(api(server, f"/api/generate?category=3&c1=0.5&c2=-1&seed=42&{query}"))
    assert pixels.shape == (side, side)
    assert pixels.std() > 1  # a picture, not a flat square


@pytest.mark.parametrize(
    ("query", "tiles", "scale"),
    [
        ("", 10, 1),  # default: every categorical code
        ("vary=category&scale=2", 10, 2),
        ("vary=c1&steps=5", 5, 1),
        ("vary=c2&steps=16&scale=3", 16, 3),
    ],
)
def test_grid_returns_a_png_of_the_requested_size(server, query, tiles, scale):
    pixels = png(api(server, f"/api/grid?{query}"))
    assert pixels.shape == ((SIZE + 2 * PAD) * scale, (tiles * (SIZE + PAD) + PAD) * scale)


def test_same_inputs_give_identical_bytes_and_c1_changes_the_image(server):
    code = {"category": 4, "c1": 0.25, "c2": 0.75, "seed": 7, "scale": 2}
    first = api(server, "/api/generate?" + urlencode(code))
    second = api(server, "/api/generate?" + urlencode(code))
    assert first.body == second.body
    base = png(first).astype(int)
    for name, value in [("c1", -0.75), ("c2", -1.5), ("seed", 8), ("category", 5)]:
        other = api(server, "/api/generate?" + urlencode({**code, name: value}))
        assert other.body != first.body, name
        assert np.count_nonzero(png(other).astype(int) - base) > 0, name
    grid = "/api/grid?vary=c1&category=2&seed=3"
    assert api(server, grid).body == api(server, grid).body


def test_defaults_are_the_documented_values(server):
    explicit = api(server, "/api/generate?category=0&c1=0&c2=0&seed=0&scale=8")
    assert api(server, "/api/generate").body == explicit.body
    explicit_grid = api(server, "/api/grid?vary=category&category=0&c1=0&c2=0&seed=0&scale=1")
    assert api(server, "/api/grid").body == explicit_grid.body
    explicit_sweep = api(server, "/api/grid?vary=c2&category=0&c1=0&seed=0&steps=9&scale=1")
    assert api(server, "/api/grid?vary=c2").body == explicit_sweep.body


def test_scale_repeats_pixels(server):
    small = png(api(server, "/api/generate?category=2&c1=1&seed=5&scale=1"))
    big = png(api(server, "/api/generate?category=2&c1=1&seed=5&scale=4"))
    assert np.array_equal(big, small.repeat(4, axis=0).repeat(4, axis=1))


def test_images_are_the_models_own(server, tiny_run):
    """The API's digit is the library's digit for the same code and seed; the strips hold
    the same noise as the single digit."""
    model = load_model(tiny_run)
    expected = to_uint8(model.generate([6], [[-0.5, 1.5]], seed=11))[0, :, :, 0].astype(int)
    served = png(api(server, "/api/generate?category=6&c1=-0.5&c2=1.5&seed=11&scale=1"))
    assert np.abs(served.astype(int) - expected).max() <= 1  # float rounding, at most 1 level

    strip = png(api(server, "/api/grid?vary=category&c1=-0.5&c2=1.5&seed=11")).astype(int)
    x = PAD + 6 * (SIZE + PAD)
    assert np.abs(strip[PAD : PAD + SIZE, x : x + SIZE] - served).max() <= 1

    sweep = png(api(server, "/api/grid?vary=c1&category=6&c2=1.5&seed=11&steps=5")).astype(int)
    x = PAD + 1 * (SIZE + PAD)  # steps=5 sweeps -2, -1, 0, 1, 2: tile 1 is c1 = -1
    at_minus_one = png(api(server, "/api/generate?category=6&c1=-1&c2=1.5&seed=11&scale=1"))
    assert np.abs(sweep[PAD : PAD + SIZE, x : x + SIZE] - at_minus_one).max() <= 1
    assert strip[0].min() == 255 and strip[:, 0].min() == 255  # white padding


# --- bad input: 422 with a message naming the parameter and its range, never a 500 ----

BAD = [
    # (endpoint, query, parameter, allowed range as the message says it)
    ("generate", "category=-1", "category", "an integer in [0, 9]"),
    ("generate", "category=10", "category", "an integer in [0, 9]"),
    ("generate", "category=1.5", "category", "an integer in [0, 9]"),
    ("generate", "category=three", "category", "an integer in [0, 9]"),
    ("generate", "category=", "category", "an integer in [0, 9]"),
    ("generate", "category=" + "9" * 5000, "category", "an integer in [0, 9]"),
    ("generate", "c1=nan", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=NaN", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=inf", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=-Infinity", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=1e999", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=2.001", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=-3", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=0x1", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=1_0", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=%201", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=%FF", "c1", "a finite number in [-2, 2]"),
    ("generate", "c1=%00", "c1", "a finite number in [-2, 2]"),
    ("generate", "c2=5", "c2", "a finite number in [-2, 2]"),
    ("generate", "c2=-nan", "c2", "a finite number in [-2, 2]"),
    ("generate", "c2=" + "1" * 400, "c2", "a finite number in [-2, 2]"),
    ("generate", "seed=-1", "seed", "an integer in [0, 2147483647]"),
    ("generate", "seed=2147483648", "seed", "an integer in [0, 2147483647]"),
    ("generate", "seed=1e3", "seed", "an integer in [0, 2147483647]"),
    ("generate", "seed=", "seed", "an integer in [0, 2147483647]"),
    ("generate", "seed=99999999999999999999999999", "seed", "an integer in [0, 2147483647]"),
    ("generate", "scale=0", "scale", "an integer in [1, 16]"),
    ("generate", "scale=17", "scale", "an integer in [1, 16]"),
    ("generate", "scale=100000", "scale", "an integer in [1, 16]"),
    ("generate", "scale=", "scale", "an integer in [1, 16]"),
    ("grid", "scale=9", "scale", "an integer in [1, 8]"),
    ("grid", "steps=1", "steps", "an integer in [2, 16]"),
    ("grid", "steps=17", "steps", "an integer in [2, 16]"),
    ("grid", "vary=c3", "vary", "one of category, c1, c2"),
    ("grid", "vary=", "vary", "one of category, c1, c2"),
    ("grid", "c1=nan", "c1", "a finite number in [-2, 2]"),
    ("grid", "category=99", "category", "an integer in [0, 9]"),
    ("grid", "seed=-5", "seed", "an integer in [0, 2147483647]"),
]


@pytest.mark.parametrize(("endpoint", "query", "name", "allowed"), BAD)
def test_bad_parameters_get_422_naming_the_parameter_and_range(
    server, endpoint, query, name, allowed
):
    reply = api(server, f"/api/{endpoint}?{query}")
    assert reply.status == 422, reply.body[:300]
    assert reply.content_type == "application/json"
    body = json.loads(reply.body)
    assert body["parameter"] == name and body["allowed"] == allowed
    assert body["error"].startswith(f"{name} must be {allowed}, got '")
    assert len(body["error"]) < 200  # a huge value is cut short in the message


def test_unknown_and_repeated_parameters_get_422(server):
    reply = api(server, "/api/generate?categroy=3")
    assert reply.status == 422
    body = json.loads(reply.body)
    assert body["parameter"] == "categroy"
    assert body["error"] == (
        "unknown parameter 'categroy'; this endpoint takes category, c1, c2, seed, scale"
    )
    reply = api(server, "/api/grid?c1=0.5&c1=0.6")
    assert reply.status == 422
    assert json.loads(reply.body)["error"] == "c1 given more than once"
    for query, name in [
        ("=5", ""),
        ("c1", "c1"),
        ("c1=1;c2=2", "c1"),
        ("c2=" + "1" * 100_000, "c2"),
    ]:
        reply = api(server, f"/api/generate?{query}")
        assert reply.status == 422 and json.loads(reply.body)["parameter"] == name, query


def test_parameters_an_endpoint_does_not_use_get_422(server):
    reply = api(server, "/api/info?x=1")
    assert reply.status == 422
    assert json.loads(reply.body)["error"] == (
        "unknown parameter 'x'; this endpoint takes no parameters"
    )
    reply = api(server, "/api/grid?vary=category&steps=5")
    assert reply.status == 422
    assert json.loads(reply.body) == {
        "error": "steps applies only to vary=c1 or vary=c2",
        "parameter": "steps",
        "allowed": "an integer in [2, 16]",
    }


def test_unknown_paths_and_methods_are_json_errors(server):
    reply = api(server, "/api/nothing")
    assert reply.status == 404 and json.loads(reply.body) == {"error": "Not Found"}
    reply = get(server.url + "api/generate", method="POST")
    assert reply.status == 405 and reply.content_type == "application/json"


def test_edge_values_are_accepted(server):
    for query in (
        "category=9&c1=-2&c2=2&seed=2147483647&scale=16",
        "c1=%2B1.5&c2=-.5&seed=0&scale=1",
        "c1=2.0e0&c2=-2E-0",
    ):
        png(api(server, f"/api/generate?{query}"))
    png(api(server, "/api/grid?vary=c2&steps=2&scale=8&c1=-2"))


def test_generation_does_not_hold_the_event_loop(server):
    """While big grids queue on the model's thread, /api/info still answers at once."""
    slow = "/api/grid?vary=c1&steps=16&scale=8&seed={}"
    finished: list[float] = []

    def fetch(i: int) -> None:
        png(api(server, slow.format(i)))
        finished.append(time.monotonic())

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    time.sleep(0.05)  # let the grids reach the server
    reply = api(server, "/api/info")
    answered = time.monotonic()
    for t in threads:
        t.join(timeout=120)
    assert reply.status == 200
    assert len(finished) == 12
    assert answered < max(finished), "info waited behind every grid"


# --- digit labels from the evaluation -----------------------------------------------


def test_checkpoint_path_with_eval_json_labels_by_digit_and_ctrl_c_stops(tmp_path, tiny_run):
    mapping = [7, 2, 1, 0, 4, 9, 5, 6, 3, 8]
    run = run_dir_with_eval(
        tmp_path / "mapped",
        tiny_run / "checkpoints" / "last.pt",
        json.dumps({"category_to_digit": mapping, "accuracy": 0.9}),
    )
    served = start_server(run / "checkpoints" / "last.pt")  # a checkpoint file, not a run dir
    try:
        assert "labelled by digits from eval.json" in served.stdout_lines[-1]
        info = json.loads(get(served.url + "api/info").body)
        assert info["category_to_digit"] == mapping
        assert info["labels"] == [str(d) for d in mapping]
        # the category strip runs by digit: tile d is the code matched to digit d
        assert info["order"] == [mapping.index(d) for d in range(10)]
        strip = png(get(served.url + "api/grid?vary=category&c1=0.5&seed=3")).astype(int)
        for place, code in ((0, 3), (9, 5)):
            one = png(get(served.url + f"api/generate?category={code}&c1=0.5&seed=3&scale=1"))
            x = PAD + place * (SIZE + PAD)
            assert np.abs(strip[PAD : PAD + SIZE, x : x + SIZE] - one).max() <= 1
    finally:
        code, err = served.stop(signal.SIGINT)
    assert code == 0, err
    assert err.strip().splitlines()[-1] == "infogan: server stopped"
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("mapping", "warning"),
    [([1, 2, 3], "not a list of 10 digits"), ([1] * 10, "gives two codes the same class")],
)
def test_unusable_eval_json_is_a_warning_not_a_failure(tmp_path, tiny_run, mapping, warning):
    run = run_dir_with_eval(
        tmp_path / "bad-eval",
        tiny_run / "checkpoints" / "last.pt",
        json.dumps({"category_to_digit": mapping}),
    )
    served = start_server(run)
    try:
        info = json.loads(get(served.url + "api/info").body)
        assert info["category_to_digit"] is None
        assert info["labels"] == [str(i) for i in range(10)]
    finally:
        code, err = served.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err
    # on stderr, as every warning: stdout holds the URL line a script reads
    assert not any("warning:" in line for line in served.stdout_lines)
    assert any(
        line.startswith("infogan: warning: ") and warning in line for line in err.splitlines()
    )


# --- the command's own mistakes: one line each -------------------------------------------


def test_bad_run_dir_is_one_line(tmp_path, main_error):
    assert "no such file or directory" in main_error("serve", tmp_path / "missing", "--port", "0")
    empty = tmp_path / "empty-run"
    empty.mkdir()
    assert "no checkpoints/last.pt" in main_error("serve", empty, "--port", "0")


def test_occupied_port_is_one_line(tiny_run, main_error):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = main_error("serve", tiny_run, "--port", port)
    assert line == f"infogan: error: cannot listen on 127.0.0.1:{port}: address already in use"


def test_serve_help_names_its_options(cli):
    out = cli.run("serve", "--help")
    assert out.returncode == 0
    for text in ("MODEL", "--pretrained", "--host", "127.0.0.1", "--port", "8000", "Ctrl-C"):
        assert text in out.stdout


def test_port_out_of_range_is_one_line(tiny_run, main_error):
    line = main_error("serve", tiny_run, "--port", "70000")
    assert line == "infogan: error: --port must be in [0, 65535], got 70000"


def test_inference_mode_generation_is_deterministic_in_process(tiny_run):
    """The explorer's own rendering, without HTTP: same inputs, same pixels."""
    from infogan.web.explorer import Explorer, encode_png

    explorer, warnings = Explorer.load(tiny_run)
    assert warnings == []
    a = explorer.single_pixels(category=1, c1=0.3, c2=-0.3, seed=99)
    b = explorer.single_pixels(category=1, c1=0.3, c2=-0.3, seed=99)
    assert a.dtype == np.uint8 and a.shape == (SIZE, SIZE) and np.array_equal(a, b)
    assert encode_png(a, 2) == encode_png(b, 2)
