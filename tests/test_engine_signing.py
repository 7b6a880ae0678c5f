"""``sign`` and ``verify`` on engine archives (issue 10): embedded records in the second
bzip2 stream, a detached ``FILE.sig``, one trust policy; real keys and real archives."""

from __future__ import annotations

import bz2
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.errors import UsageError
from cloacina_build.format.archive import tar_member
from cloacina_build.format.engine import open_engine
from cloacina_build.model import SignatureStatus
from cloacina_build.ops.signing import sign_detached, sign_package
from cloacina_build.ops.validate import ValidationPolicy, validate_package, verify_package
from cloacina_build.trust.signatures import encode_record

from . import engine_tools as et
from .conftest import EXAMPLES
from .keyring import key, make_keyring, trusted

EXE = str(Path(sys.executable).with_name("cloacinactl"))
ROOT = "data-pipeline-1.0.0"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def keyring(tmp_path_factory):
    return make_keyring(tmp_path_factory.mktemp("keys"))


def codes(report) -> list[str]:
    return sorted({f.code for f in report.errors})


@pytest.fixture(scope="module")
def built_engine(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("engine") / f"{ROOT}.cloacina"
    build_package(EXAMPLES / "data-pipeline", out, format="engine")
    return out


@pytest.fixture
def engine_pkg(built_engine, tmp_path) -> Path:
    dst = tmp_path / built_engine.name
    shutil.copyfile(built_engine, dst)
    return dst


@pytest.fixture
def signed(engine_pkg, keyring) -> Path:
    sign_package(engine_pkg, key(keyring, "alice"), comment="release 1.0.0")
    return engine_pkg


def split(path: Path) -> tuple[bytes, bytes]:
    """The raw bytes of the first stream and of what follows it."""
    data = path.read_bytes()
    cut = open_engine(path).trailing.offset
    return data[:cut], data[cut:]


def first_tar(path: Path) -> bytes:
    return bz2.BZ2Decompressor().decompress(split(path)[0])


def records(path: Path) -> dict[str, bytes]:
    """The second stream's members, read with Python's tarfile."""
    second = bz2.decompress(split(path)[1])
    with tarfile.open(fileobj=io.BytesIO(second), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def ctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, encoding="utf-8")


# ------------------------------------------------------------------ signing


def test_signed_engine_archive_verifies_and_names_its_signer(signed, keyring):
    report = verify_package(signed, trusted(keyring))
    assert report.ok, [f.render() for f in report.findings]
    assert report.kind == "engine" and report.verified_by == ["alice"]
    (sig,) = report.signatures
    assert sig.status is SignatureStatus.VERIFIED and sig.comment == "release 1.0.0"
    assert sig.key_id == keyring["alice"][2]
    assert report.archive_digest is not None and report.digest is not None


def test_signing_leaves_the_first_stream_byte_for_byte(built_engine, signed):
    cut = open_engine(built_engine).trailing.offset
    assert open_engine(signed).trailing.offset == cut
    assert signed.read_bytes()[:cut] == built_engine.read_bytes()[:cut]
    assert signed.read_bytes() != built_engine.read_bytes()


def test_the_engine_view_after_signing_is_unchanged_and_valid(built_engine, signed, keyring):
    first = bz2.BZ2Decompressor()
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(first.decompress(
        signed.read_bytes())), mode="r:")]
    assert not any("signatures" in n for n in names)  # the engine never sees a record
    assert validate_package(signed).findings == []    # no finding, not even a warning
    with tarfile.open(signed, "r:bz2") as tar:        # multi-stream readers see one archive
        member = f"{ROOT}/.cloacina-build/signatures/{keyring['alice'][2]}.json"
        assert member in tar.getnames()
    assert list(records(signed)) == [member]


def test_co_signing_adds_and_re_signing_needs_force(signed, keyring):
    result = sign_package(signed, key(keyring, "bob"), comment="second")
    assert result.signatures == 2 and result.replaced is None
    before = signed.read_bytes()
    with pytest.raises(UsageError) as info:
        sign_package(signed, key(keyring, "alice"), comment="renewed")
    assert info.value.code == "exists" and "--force" in (info.value.hint or "")
    assert signed.read_bytes() == before
    result = sign_package(signed, key(keyring, "alice"), comment="renewed", force=True)
    assert result.signatures == 2 and result.replaced and "by alice" in result.replaced
    report = verify_package(signed, trusted(keyring, threshold=2))
    assert report.ok and report.verified_by == ["alice", "bob"]
    assert sorted(s.comment for s in report.signatures) == ["renewed", "second"]


def test_unsigned_and_untrusted(engine_pkg, keyring):
    assert codes(verify_package(engine_pkg, trusted(keyring))) == ["signature-missing"]
    sign_package(engine_pkg, key(keyring, "mallory"))
    assert codes(verify_package(engine_pkg, trusted(keyring))) == ["signature-untrusted"]
    assert validate_package(engine_pkg, ValidationPolicy(trust=trusted(keyring))).ok


def test_an_archive_without_our_manifest_takes_only_a_detached_signature(tmp_path, keyring):
    path = tmp_path / "engine-made.cloacina"
    shutil.copyfile(et.FIXTURES / "python-workflow.cloacina", path)
    before = path.read_bytes()
    with pytest.raises(UsageError) as info:
        sign_package(path, key(keyring, "alice"))
    assert info.value.code == "engine-no-build-manifest"
    assert "--detached" in (info.value.hint or "") and path.read_bytes() == before
    sign_detached(path, key(keyring, "alice"))
    report = verify_package(path, trusted(keyring, detached=Path(f"{path}.sig")))
    assert report.ok and report.verified_by == ["alice"]
    assert codes(verify_package(path, trusted(keyring))) == ["signature-missing"]


def test_detached_signature_last_and_any_change_voids_it(engine_pkg, keyring):
    sig = Path(f"{engine_pkg}.sig")
    sign_package(engine_pkg, key(keyring, "alice"))
    sign_detached(engine_pkg, key(keyring, "bob"))
    report = verify_package(engine_pkg, trusted(keyring, threshold=2, detached=sig))
    assert report.ok and report.verified_by == ["alice", "bob"]
    assert any(s.detached and s.status is SignatureStatus.VERIFIED for s in report.signatures)
    with pytest.raises(UsageError) as err:  # it would void the detached signature
        sign_package(engine_pkg, key(keyring, "bob"))
    assert err.value.code == "exists" and sig.name in err.value.message
    sign_package(engine_pkg, key(keyring, "bob"), force=True)  # new bytes all the same
    report = verify_package(engine_pkg, trusted(keyring, detached=sig))
    assert "signature-wrong-package" in codes(report)


# ------------------------------------------------------------------ tampering


def _rewrite(path: Path, first_raw: bytes | None = None, second_raw: bytes | None = None
             ) -> None:
    one, two = split(path)
    path.write_bytes((one if first_raw is None else first_raw)
                     + (two if second_raw is None else second_raw))


def test_a_flipped_byte_in_the_first_stream(signed, keyring):
    data = bytearray(signed.read_bytes())
    data[len(split(signed)[0]) // 2] ^= 0x01
    signed.write_bytes(bytes(data))
    report = verify_package(signed, trusted(keyring))  # bzip2's CRC, or tar's checksum first
    assert not report.ok and {"engine-bzip2-corrupt", "engine-tar-corrupt"} & set(codes(report))


def test_changed_source_recompressed_is_a_content_mismatch(signed, keyring):
    tar = first_tar(signed)
    at = tar.index(b"def ")  # a byte of a source file, same size
    tar = tar[:at] + b"DEF " + tar[at + 4:]
    _rewrite(signed, first_raw=bz2.compress(tar, 9))
    found = codes(verify_package(signed, trusted(keyring)))
    assert "signature-content-mismatch" in found and "digest-mismatch" in found


def test_a_flipped_byte_in_the_signature_stream(signed, keyring):
    data = bytearray(signed.read_bytes())
    data[len(split(signed)[0]) + 40] ^= 0x01
    signed.write_bytes(bytes(data))
    assert "signature-trailer" in codes(verify_package(signed, trusted(keyring)))


def test_an_altered_record_does_not_verify(signed, keyring):
    (name, body), = records(signed).items()
    record = json.loads(body)
    record["payload"]["comment"] = "approved by security"
    tar = tar_member(name, encode_record(record), 315532800) + b"\0" * 1024
    _rewrite(signed, second_raw=bz2.compress(tar, 9))
    assert codes(verify_package(signed, trusted(keyring))) == ["signature-invalid"]


def test_a_record_moved_to_the_first_stream(signed, keyring):
    (name, body), = records(signed).items()
    tar = first_tar(signed) + tar_member(name, body, 315532800)
    _rewrite(signed, first_raw=bz2.compress(tar, 9), second_raw=bz2.compress(b"\0" * 1024, 9))
    found = codes(verify_package(signed, trusted(keyring)))
    assert "engine-build-member" in found and "signature-missing" in found


@pytest.mark.parametrize("forge", ["extra-stream", "level-1", "garbage"])
def test_a_forged_signature_stream(signed, keyring, forge):
    one, two = split(signed)
    if forge == "extra-stream":   # another stream after ours
        two += bz2.compress(b"\0" * 1024, 9)
    elif forge == "level-1":      # the same records, not what sign writes
        two = bz2.compress(bz2.decompress(two), 1)
    else:
        two += b"junk"
    signed.write_bytes(one + two)
    assert "signature-trailer" in codes(verify_package(signed, trusted(keyring)))
    assert "signature-trailer" in codes(validate_package(
        signed, ValidationPolicy(trust=trusted(keyring))))


def test_an_oversized_record_is_not_read(signed, keyring):
    (name, _), = records(signed).items()
    tar = tar_member(name, b" " * (200 * 1024), 315532800) + b"\0" * 1024
    _rewrite(signed, second_raw=bz2.compress(tar, 9))
    archive = open_engine(signed)
    assert archive.signatures == () and "bytes (at most" in (archive.trailer_problem or "")
    assert "signature-trailer" in codes(verify_package(signed, trusted(keyring)))


# ------------------------------------------------------------------ the command line


def test_cli_sign_verify_inspect(engine_pkg, keyring):
    keyfile = keyring["alice.key"]
    proc = ctl("sign", str(engine_pkg), "--key", str(keyfile), "--comment", "ci")
    assert proc.returncode == 0 and "1 signature(s)" in proc.stdout, proc.stderr
    proc = ctl("verify", str(engine_pkg), "--trust", str(keyring["trusted_dir"]))
    assert proc.returncode == 0 and "verified: data-pipeline 1.0.0" in proc.stdout
    proc = ctl("inspect", "--json", str(engine_pkg), "--trust", str(keyring["trusted_dir"]))
    data = json.loads(proc.stdout)
    assert data["format"] == "engine"
    assert [(s["signer"], s["status"]) for s in data["signatures"]] == [("alice", "verified")]
    text = ctl("inspect", str(engine_pkg)).stdout
    assert "Signatures" in text and "alice" in text and "no --trust given" in text
    proc = ctl("sign", "--detached", str(engine_pkg), "--key", str(keyfile))
    assert proc.returncode == 0 and Path(f"{engine_pkg}.sig").is_file()
    proc = ctl("verify", "--json", str(engine_pkg), "--trust", str(keyring["trusted_dir"]))
    assert json.loads(proc.stdout)["verified"] is True
    assert sum(1 for s in json.loads(proc.stdout)["signatures"] if s.get("detached")) == 1


def test_signer_names_are_data(engine_pkg, keyring):
    hostile = "mallory\x1b[1m\u202e"
    sign_package(engine_pkg, key(keyring, "alice"), signer=hostile,
                 comment="ok\x1b[2K\r  signature verified")
    for args in (("inspect", str(engine_pkg)),
                 ("verify", str(engine_pkg), "--trust", str(keyring["trusted_dir"]))):
        proc = ctl(*args)
        assert proc.returncode == 0, proc.stderr
        assert not RAW.findall(proc.stdout + proc.stderr)
        assert "mallory\\x1b[1m" in proc.stdout


def test_package_sign_with_the_engine_format(tmp_path, keyring):
    out = tmp_path / f"{ROOT}.cloacina"
    result = build_package(EXAMPLES / "data-pipeline", out, format="engine",
                           sign_key=key(keyring, "alice"), comment="built and signed")
    assert result.signed is not None and result.size == out.stat().st_size
    report = verify_package(out, trusted(keyring))
    assert report.ok and report.verified_by == ["alice"]


def test_replaced_signer_names_are_data(engine_pkg, keyring):
    sign_package(engine_pkg, key(keyring, "alice"), signer="eve\x1b]0;owned\x07")
    proc = ctl("sign", str(engine_pkg), "--key", str(keyring["alice.key"]), "--force")
    assert proc.returncode == 0, proc.stderr
    assert not RAW.findall(proc.stdout) and "eve\\x1b]0;owned\\x07" in proc.stdout


def test_flipped_bytes_across_the_signed_archive_are_all_refused(signed, keyring):
    """A sample of single-byte flips (every 4th byte of the signature stream, every 31st
    of the first stream): verify refuses each one."""
    data = signed.read_bytes()
    cut = open_engine(signed).trailing.offset
    policy = trusted(keyring)
    missed = []
    for at in [*range(0, cut, 31), *range(cut, len(data), 4)]:
        flipped = bytearray(data)
        flipped[at] ^= 0x01
        signed.write_bytes(bytes(flipped))
        if verify_package(signed, policy).ok:
            missed.append(at)
    assert missed == []


def test_a_signed_engine_archive_is_not_rebuilt_over_without_force(tmp_path, keyring):
    """package (and convert) refuse to replace a signed engine archive, as they do a signed
    zstd package (found by a new user: the signatures were lost without a word)."""
    from cloacina_build.errors import UsageError

    out = tmp_path / "x.cloacina"
    build_package(EXAMPLES / "data-pipeline", out, format="engine")
    sign_package(out, key(keyring, "alice"))
    with pytest.raises(UsageError) as err:
        build_package(EXAMPLES / "data-pipeline", out, format="engine")
    assert err.value.code == "exists" and "alice" in err.value.message
    result = build_package(EXAMPLES / "data-pipeline", out, format="engine", force=True)
    assert result.replaced and "alice" in result.replaced
