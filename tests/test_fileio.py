from pathlib import Path

import pytest

from infogan.errors import ConfigError
from infogan.fileio import as_path, atomic_open, check_writable


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


def test_atomic_open_names_the_target_not_its_temporary(tmp_path):
    (tmp_path / "d.png").mkdir()
    (tmp_path / "g.png").write_text("a file")
    with pytest.raises(IsADirectoryError) as err, atomic_open(tmp_path / "d.png"):
        pass
    assert (err.value.filename, err.value.strerror) == (
        str(tmp_path / "d.png"),
        "is a directory, not a file",
    )
    with pytest.raises(NotADirectoryError) as err, atomic_open(tmp_path / "g.png" / "x.png"):
        pass
    assert err.value.filename == str(tmp_path / "g.png" / "x.png")
    assert err.value.strerror == f"{tmp_path / 'g.png'} is not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "g.png"]
    assert not any((tmp_path / "d.png").iterdir())


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys")
def test_atomic_open_and_check_writable_name_a_folder_that_takes_no_files():
    with pytest.raises(OSError) as checked:
        check_writable("/sys/x.png")
    with pytest.raises(OSError) as opened, atomic_open("/sys/x.png"):
        pass
    for err in (checked, opened):
        assert err.value.filename == "/sys/x.png"  # not /sys/.x.png.XXXX.tmp
        assert err.value.strerror in ("permission denied", "read-only file system")


def test_check_writable_leaves_nothing_and_creates_no_folder(tmp_path):
    (tmp_path / "d.png").mkdir()
    (tmp_path / "g.png").write_text("a file")
    assert check_writable(tmp_path / "new" / "sub" / "x.png") == tmp_path / "new" / "sub" / "x.png"
    assert check_writable(tmp_path / "g.png") == tmp_path / "g.png"  # replacing a file is fine
    with pytest.raises(IsADirectoryError, match="is a directory"):
        check_writable(tmp_path / "d.png")
    with pytest.raises(NotADirectoryError, match=r"g\.png is not a directory"):
        check_writable(tmp_path / "g.png" / "deeper" / "x.png")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["d.png", "g.png"]


def test_as_path_refuses_a_blank_string_that_pathlib_reads_as_here():
    assert as_path("runs/x", "run_dir") == Path("runs/x")
    assert as_path(Path("."), "run_dir") == Path(".")  # the current folder, named so
    for blank in ("", "   ", "\t"):
        with pytest.raises(ConfigError, match=r"^run_dir must name a run; got the blank"):
            as_path(blank, "run_dir", kinds="a run")
