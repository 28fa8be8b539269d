import pytest

from infogan.fileio import atomic_open


def test_atomic_open_replaces_the_file_only_on_success(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    with atomic_open(path, "w") as fh:
        fh.write("first\n")
    assert path.read_text() == "first\n"
    with pytest.raises(ZeroDivisionError), atomic_open(path, "w") as fh:
        fh.write("half of the second")
        1 / 0  # noqa: B018
    assert path.read_text() == "first\n"  # the old file survives a failed write
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]  # no temporary left
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_atomic_open_refuses_append_modes(tmp_path):
    with pytest.raises(ValueError, match="writes whole files"), atomic_open(tmp_path / "x", "a"):
        pass
