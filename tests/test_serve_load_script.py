"""benchmarks/serve_load.py loads the latent explorer; what it refuses, it refuses in one
line before it starts a server or sends a request."""

from __future__ import annotations


def test_bad_arguments_are_refused_in_one_line(tmp_path, script_error):
    # a host name, no host or a port that is not a number used to end in a traceback
    for url in ("http://example.com/", "notaurl", "http://127.0.0.1:x/", "http://10.0.0.1:80/"):
        line = script_error("serve_load", "--url", url)
        assert line.endswith(f"--url {url}: expected http://127.0.0.1:PORT/ (loopback only)")
    line = script_error("serve_load", tmp_path, "--max-seconds", "0")
    assert line.endswith("--max-seconds must be positive, got 0.0")
    assert "one of the two" in script_error("serve_load")
    assert "--requests must be in" in script_error("serve_load", tmp_path, "--requests", "0")


def test_a_server_that_does_not_answer_is_named_in_one_line(benchmark_script, capsys):
    import socket

    with socket.socket() as sock:  # a loopback port with nobody listening on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    code = benchmark_script("serve_load").main(["--url", url, "--requests", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"serve_load.py: error: {url}: ") and "Connection" in err[0]
