"""No message names an internal temporary path: errors name the user's file, with a hint."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloacina_build.errors import UsageError
from cloacina_build.fsutil import atomic_output
from cloacina_build.trust.keys import generate

CLI = Path(sys.executable).with_name("cloacinactl")
INTERNAL = ("cloacina-sign-", "cloacina-build-", "cloacina-validate-", ".tmp", ".load-",
            ".build-", "Traceback")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def one_error_and_a_hint(proc: subprocess.CompletedProcess[str]) -> list[str]:
    lines = proc.stderr.splitlines()
    for marker in INTERNAL:
        assert marker not in proc.stderr + proc.stdout, proc.stderr
    assert lines[0].startswith("error: ") and lines[-1].startswith("hint: "), proc.stderr
    return lines


def test_sign_a_file_that_is_not_a_package(tmp_path):
    generate("me", tmp_path / "keys")
    (tmp_path / "bad.cloacina").write_bytes(b"not a package\n" * 100)
    proc = run(["sign", "--key", "keys/me.key", "bad.cloacina"], tmp_path)
    assert proc.returncode == 1
    lines = one_error_and_a_hint(proc)
    assert len(lines) == 2 and "bad.cloacina is not a .cloacina package" in lines[0]


def test_sign_a_damaged_package_names_the_file_in_every_finding(tmp_path, built_pipeline):
    generate("me", tmp_path / "keys")
    data = built_pipeline.read_bytes()
    (tmp_path / "cut.cloacina").write_bytes(data[: len(data) // 2])
    proc = run(["sign", "--key", "keys/me.key", "cut.cloacina"], tmp_path)
    assert proc.returncode == 1
    lines = one_error_and_a_hint(proc)
    assert lines[0] == "error: cut.cloacina failed validation; refusing to sign it"
    assert all(line.startswith("  error[") for line in lines[1:-1])


def _read_only_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    # root ignores permissions; sysfs refuses new files even to root
    try:
        fd, name = __import__("tempfile").mkstemp(dir="/sys")
    except OSError:
        return Path("/sys")
    os.close(fd)
    os.unlink(name)
    pytest.skip("running as root and no read-only directory to write into")


@pytest.mark.parametrize("where", ["read-only", "file-in-the-way"])
def test_package_into_a_place_that_cannot_be_written(tmp_path, pipeline_project, where):
    if where == "read-only":
        out = _read_only_dir(tmp_path) / "x.cloacina"
    else:
        (tmp_path / "afile").write_text("")
        out = tmp_path / "afile" / "sub" / "x.cloacina"
    proc = run(["package", str(pipeline_project), "-o", str(out)], tmp_path)
    assert proc.returncode == 2
    lines = one_error_and_a_hint(proc)
    assert len(lines) == 2 and lines[0].startswith(f"error: cannot write {out}: ")
    if out.parent.is_dir():
        assert not [p for p in out.parent.iterdir() if p.name.startswith(".x.cloacina")]


def test_atomic_output_names_the_target_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"

    def failing_replace(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link", str(src), str(dst))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(UsageError) as info:
        with atomic_output(target) as fh:
            fh.write(b"data")
    assert info.value.code == "output-unwritable"
    assert str(target) in info.value.message and ".tmp" not in info.value.message
    assert info.value.hint and list(tmp_path.iterdir()) == []


def test_atomic_output_a_full_disk_names_the_target(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(UsageError) as info:
        with atomic_output(target):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.message == f"cannot write {target}: no space left on device"
    assert "free some space" in (info.value.hint or "")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_leaves_other_errors_alone(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_output(tmp_path / "out.bin"):
            open(tmp_path / "missing-input")
    assert list(tmp_path.iterdir()) == []


def test_an_unusable_cache_names_the_cache_directory(tmp_path, built_pipeline):
    from cloacina_build.runtime.loader import load_package

    (tmp_path / "afile").write_text("")
    cache = tmp_path / "afile" / "cache"
    with pytest.raises(UsageError) as info:
        load_package(built_pipeline, cache_dir=cache)
    assert info.value.code == "cache-unusable" and str(cache) in info.value.message


def test_new_into_a_place_that_cannot_be_written(tmp_path):
    (tmp_path / "afile").write_text("")
    proc = run(["new", "zz", "--path", "afile/zz"], tmp_path)
    assert proc.returncode == 2
    lines = one_error_and_a_hint(proc)
    assert lines == ["error: cannot write afile/zz: a file is in the way of its directory "
                     "afile", "hint: choose another place, or move that file"]


def _wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_large_output_is_synced_while_it_is_still_being_written(tmp_path, monkeypatch):
    """``durable`` pushes a growing file to disk from a second thread, so the closing
    fsync has only the tail left: the sync happens before the block ends."""
    from cloacina_build import fsutil

    synced: list[int] = []
    real = getattr(os, "fdatasync", os.fsync)
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1],
                        raising=False)
    target = tmp_path / "big.bin"
    with atomic_output(target) as fh:
        fh.write(b"\0" * (fsutil.WRITE_BEHIND + 1))
        fh.flush()
        assert _wait_for(lambda: synced), "no sync while the file was being written"
        fh.write(b"tail")
    assert target.stat().st_size == fsutil.WRITE_BEHIND + 5
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_a_small_output_is_not_synced_by_the_write_behind_thread(tmp_path, monkeypatch):
    synced: list[int] = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: synced.append(fd), raising=False)
    with atomic_output(tmp_path / "small.bin") as fh:
        fh.write(b"x" * 1000)
        time.sleep(0.1)
    assert synced == [] and (tmp_path / "small.bin").read_bytes() == b"x" * 1000


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO])
def test_a_write_behind_sync_that_fails_is_reported_naming_the_output(err, tmp_path,
                                                                    monkeypatch):
    """The thread's failed sync is raised when the block ends, as the output that could
    not be written (never the temporary file), and nothing is left."""
    from cloacina_build import fsutil

    failed: list[int] = []

    def failing(fd):
        failed.append(fd)
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(os, "fdatasync", failing, raising=False)
    target = tmp_path / "big.bin"
    with pytest.raises(UsageError) as info:
        with atomic_output(target) as fh:
            fh.write(b"\0" * (fsutil.WRITE_BEHIND + 1))
            fh.flush()
            assert _wait_for(lambda: failed)
    assert info.value.code == "output-unwritable" and str(target) in info.value.message
    assert ".tmp" not in info.value.message and list(tmp_path.iterdir()) == []
