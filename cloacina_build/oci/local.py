"""``oci://`` references as local files: the package (and its ``FILE.sig`` and
``FILE.intoto.jsonl`` referrers) in a content-addressed cache, so ``inspect``, ``validate``,
``verify``, ``run`` and ``load_package`` can take a reference, and a second use does not
download it again.

The cache is ``CACHE_DIR/oci/`` (``CACHE_DIR``: the loader's, ``CLOACINA_CACHE_DIR`` or
``~/.cache/cloacina/packages``), one directory per package manifest digest in each
repository, ``HOST/REPOSITORY/sha256-<hex>/`` (referrers belong to a manifest in a
repository: the same package in two repositories may have different signatures), holding
the package under its own file name, its referrers beside it and ``oci.json``, which
records what the directory must hold: the package file's identity (device, inode, size,
times: a changed file is fetched again, never served), the sha256 of each referrer file,
and which referrer manifests they came from.  An entry is filled in a private directory by
:func:`~.pull.pull_package` (every digest checked while it streams) and renamed into place
under a per-digest lock: a failed or interrupted fetch leaves nothing behind.

A digest never names other bytes, so a reference by digest that is cached is served
without asking the registry at all (the registry may be down).  A tag is resolved each
time (a moved tag is fetched anew); as the registry is asked anyway, the referrers are
listed again too, and a signature or attestation added since (``sign --detached oci://``,
``attest oci://``) is fetched beside the cached package.  See docs/publishing.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..fsutil import default_cache_dir, exclusive_lock, file_identity, file_sha256
from ..progress import NO_PROGRESS, Progress
from .artifact import SIDECARS, safe_file_name
from .auth import Credentials
from .client import Registry, fallback_tag
from .pull import fetch_referrers, newest_referrers, pull_package
from .push import open_registry
from .reference import Reference, parse_fetchable, parse_reference

ENTRY_FILE = "oci.json"
ENTRY_VERSION = 1


@dataclass(frozen=True)
class LocalPackage:
    """A package from a registry, as files in the cache."""

    reference: str               # oci://HOST/REPO[:TAG]@DIGEST
    digest: str                  # the package manifest's
    path: Path                   # the package file
    signature: Path | None       # FILE.sig, when the registry has a signature referrer
    provenance: Path | None      # FILE.intoto.jsonl, when it has an attestation
    downloaded: bool             # False: served from the cache
    refreshed: bool = False      # cached, but its referrers changed and were fetched again


def oci_cache_dir(cache_dir: Path | str | None = None) -> Path:
    """Where references are kept: ``oci/`` in the package cache."""
    return (Path(cache_dir) if cache_dir else default_cache_dir()) / "oci"


def fetch_reference(ref: str, *, cache_dir: Path | str | None = None,
                    auth: Credentials | None = None, plain_http: bool = False,
                    registry: Registry | None = None,
                    progress: Progress = NO_PROGRESS) -> LocalPackage:
    """The package ``ref`` (``oci://HOST/REPO:TAG`` or ``…@sha256:…``) names, from the cache
    when it is there, else fetched into it.  Errors are ``UsageError`` (a bad reference, an
    unreachable registry, a cache that cannot be written) or ``PackageError`` (what the
    registry sent is not the package its digests name); nothing is cached then."""
    target = parse_fetchable(ref)
    root = _Store(oci_cache_dir(cache_dir), target)
    if target.digest is not None:
        with _locked(root, target.digest):
            entry = _read_entry(root, target.digest)
        if entry is not None:
            return _local(target, entry, downloaded=False)
    reg = open_registry(target, auth, plain_http, registry)
    try:
        digest = target.digest
        if digest is None:
            progress.phase("resolving the tag")
            digest = reg.resolve(target.repository, target.tag or "")
        return _fetch(reg, target.with_digest(digest), root, progress)
    finally:
        if registry is None:
            reg.close()


@dataclass(frozen=True)
class _Store:
    """The cache (``top``) and the directory of one repository's entries in it."""

    top: Path
    target: Reference

    @property
    def repo(self) -> Path:
        return self.top / self.target.host.lower() / self.target.repository

    def entry(self, digest: str) -> Path:
        return self.repo / fallback_tag(digest)  # sha256-<hex>


def _fetch(reg: Registry, pinned: Reference, root: _Store, progress: Progress
           ) -> LocalPackage:
    digest = pinned.digest
    assert digest is not None
    with _locked(root, digest):
        entry = _read_entry(root, digest)
        if entry is not None:  # a tag to a cached package: its referrers may have changed
            refreshed = _refresh(reg, pinned, entry, progress)
            return _local(pinned, entry, downloaded=False, refreshed=refreshed)
        entry = _make_entry(reg, pinned, root, progress)
        return _local(pinned, entry, downloaded=True)


@contextlib.contextmanager
def _locked(root: _Store, digest: str) -> Iterator[None]:
    try:
        root.repo.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(root.repo / f".{fallback_tag(digest)}.lock"):
            yield
    except OSError as exc:
        if not _about(root, exc):
            raise
        raise unusable(root, exc) from None


def _about(root: _Store, exc: OSError) -> bool:
    names = [os.path.abspath(str(n)) for n in (exc.filename, exc.filename2) if n is not None]
    top = os.path.abspath(root.top)
    return not names or any(n == top or n.startswith(top + os.sep) for n in names)


def unusable(root: _Store, exc: OSError) -> UsageError:
    reason = (exc.strerror or type(exc).__name__).lower()
    return UsageError(f"cannot use the package cache {root.top.parent}: {reason}",
                      code="cache-unusable",
                      hint="set CLOACINA_CACHE_DIR (or pass --cache-dir to run) to a "
                           "directory you can write to (with free space)")


def _local(pinned: Reference, entry: dict[str, Any], *, downloaded: bool,
           refreshed: bool = False) -> LocalPackage:
    path = Path(entry["_dir"]) / entry["file"]
    sig, prov = (_suffix(t) for t in SIDECARS)
    recorded = entry["sidecars"]
    return LocalPackage(str(pinned), entry["digest"], path,
                        path.with_name(path.name + sig) if sig in recorded else None,
                        path.with_name(path.name + prov) if prov in recorded else None,
                        downloaded, refreshed)


def _suffix(artifact_type: str) -> str:
    return SIDECARS[artifact_type][0]


# ---------------------------------------------------------------------------- entries


def _read_entry(root: _Store, digest: str) -> dict[str, Any] | None:
    """The entry of ``digest`` when it is whole and untouched, else None (it is then
    fetched again and replaced)."""
    where = root.entry(digest)
    try:
        entry = json.loads((where / ENTRY_FILE).read_text("utf-8"))
        names = set(os.listdir(where))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("version") != ENTRY_VERSION or \
            entry.get("digest") != digest or not isinstance(entry.get("sidecars"), dict):
        return None
    name = entry.get("file")
    if not isinstance(name, str) or safe_file_name(name) != name:
        return None
    sidecars: dict[str, Any] = entry["sidecars"]
    if names != {ENTRY_FILE, name, *(name + s for s in sidecars)} or \
            file_identity(where / name) != entry.get("identity"):
        return None
    for suffix, record in sidecars.items():
        if not isinstance(record, dict) or file_sha256(where / (name + suffix)) != \
                record.get("sha256"):
            return None
    return {**entry, "_dir": str(where)}


def _make_entry(reg: Registry, pinned: Reference, root: _Store, progress: Progress
                ) -> dict[str, Any]:
    """Pull into a private directory in the cache, record it, rename it into place."""
    digest = pinned.digest
    assert digest is not None
    stage = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root.repo))
    try:
        result = pull_package(str(pinned), stage, registry=reg, progress=progress)
        name = Path(result.path).name
        listing = _by_suffix(result.referrers)  # the referrers pull took
        entry = {"version": ENTRY_VERSION, "digest": digest, "file": name,
                 "identity": file_identity(stage / name),
                 "sidecars": _records(stage, name, listing)}
        _write_json(stage / ENTRY_FILE, entry)
        final = root.entry(digest)
        if final.exists():  # damaged or tampered with: replaced whole
            trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=root.repo))
            os.replace(final, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(stage, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {**entry, "_dir": str(final)}


def _by_suffix(referrers: dict[str, str]) -> dict[str, str]:
    """Referrer manifest digests by artifact type, keyed by file suffix instead."""
    return {_suffix(artifact_type): digest for artifact_type, digest in referrers.items()}


def _records(where: Path, name: str, listing: dict[str, str]) -> dict[str, dict[str, str]]:
    out = {}
    for artifact_type in SIDECARS:
        suffix = _suffix(artifact_type)
        if (where / (name + suffix)).is_file():
            out[suffix] = {"sha256": file_sha256(where / (name + suffix)),
                           "referrer": listing.get(suffix, "")}
    return out


def _write_json(path: Path, value: dict[str, Any]) -> None:
    _put(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def _save_entry(where: Path, entry: dict[str, Any], listing: dict[str, str]) -> None:
    """Record the sidecars now beside the package (their referrers: ``listing``)."""
    entry["sidecars"] = _records(where, entry["file"], listing)
    _write_json(where / ENTRY_FILE, {k: v for k, v in entry.items() if k != "_dir"})


def _put(path: Path, data: bytes) -> None:
    """``data`` at ``path`` through a temporary name beside it (under the entry's lock)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _refresh(reg: Registry, pinned: Reference, entry: dict[str, Any], progress: Progress
             ) -> bool:
    """List the referrers again; when they changed, fetch them (each checked: subject,
    type, digest) and put them beside the cached package in place of the old ones (True
    then)."""
    assert pinned.digest is not None
    newest = newest_referrers(reg, pinned.repository, pinned.digest)
    listing = _by_suffix({t: d.digest for t, d in newest.items()})
    if listing == {s: r.get("referrer") for s, r in entry["sidecars"].items()}:
        return False
    fetched = fetch_referrers(reg, pinned.repository, pinned.digest, newest, progress)
    where, name = Path(entry["_dir"]), entry["file"]
    for artifact_type in SIDECARS:  # (_locked maps the cache's OSErrors)
        target = where / (name + _suffix(artifact_type))
        if artifact_type in fetched:
            _put(target, fetched[artifact_type])
        elif target.is_file():
            target.unlink()
    _save_entry(where, entry, listing)
    return True


def store_sidecar(local: LocalPackage, file: Path, artifact_type: str, referrer: str,
                  cache_dir: Path | str | None = None) -> Path:
    """Put ``file`` (a referrer just pushed for ``local``) beside the cached package, so a
    reference by digest, which is served without asking the registry, sees it too."""
    root = _Store(oci_cache_dir(cache_dir), parse_reference(local.reference))
    with _locked(root, local.digest):
        entry = _read_entry(root, local.digest)
        where = local.path.parent
        target = local.path.with_name(local.path.name + _suffix(artifact_type))
        if entry is None:  # gone or damaged meanwhile: the next use fetches it again
            return target
        _put(target, file.read_bytes())  # (_locked maps the cache's OSErrors)
        listing = {s: r.get("referrer", "") for s, r in entry["sidecars"].items()}
        listing[_suffix(artifact_type)] = referrer
        _save_entry(where, entry, listing)
    return target
