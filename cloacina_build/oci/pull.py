"""``pull_package``: a package and its referrers (``FILE.sig``, ``FILE.intoto.jsonl``) from a
registry into a directory, every digest checked while streaming, verified (with ``trust``)
before anything is put in place, each file written atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PackageError
from ..fsutil import durable, unwritable
from ..progress import NO_PROGRESS, Progress
from ..strict_json import strict_json
from .artifact import (
    LAYER_TYPES,
    MAX_CONFIG,
    MAX_SIDECAR,
    PROVENANCE_TYPE,
    SIDECARS,
    SIGNATURE_TYPE,
    TITLE,
    check_package_manifest,
    safe_file_name,
)
from .auth import Credentials
from .client import Registry
from .manifest import Descriptor, ImageManifest, parse_manifest
from .push import open_registry
from .reference import Reference, parse_fetchable

if TYPE_CHECKING:  # pragma: no cover (the trust code is imported only to verify)
    from ..trust.policy import TrustPolicy

MAX_PACKAGE = 4 << 30  # bytes of a package layer we are willing to write


@dataclass(frozen=True)
class PackageConfig:
    """What a package's config blob says (the rest of it is for people and other tools)."""

    format: str
    name: str
    version: str


@dataclass
class PullResult:
    reference: str                   # oci://HOST/REPO[:TAG]@DIGEST
    digest: str                      # the package manifest's
    path: str                        # the package file written
    size: int
    format: str                      # "cloacina" or "engine"
    name: str
    version: str
    signature: str | None = None     # FILE.sig written, if the registry had one
    provenance: str | None = None    # FILE.intoto.jsonl written, if it had one
    verified: bool = False
    signed_by: list[str] = field(default_factory=list)  # trusted signers, when verified
    removed: list[str] = field(default_factory=list)  # stale sidecars taken away
    referrers: dict[str, str] = field(default_factory=dict)  # artifact type: manifest taken

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, **dataclasses.asdict(self)}


def resolve(ref: str, *, auth: Credentials | None = None, plain_http: bool = False,
            registry: Registry | None = None) -> str:
    """The manifest digest ``ref`` names now (a tag is looked up; a digest is checked)."""
    target = parse_fetchable(ref)
    reg = open_registry(target, auth, plain_http, registry)
    try:
        return reg.resolve(target.repository, target.reference or "")
    finally:
        if registry is None:
            reg.close()


def pull_package(ref: str, out_dir: Path | str = ".", *,
                 trust: TrustPolicy | Path | str | None = None,
                 auth: Credentials | None = None, plain_http: bool = False,
                 registry: Registry | None = None,
                 progress: Progress = NO_PROGRESS) -> PullResult:
    """Fetch the package ``ref`` names (and its signature and provenance referrers) into
    ``out_dir``.  With ``trust`` (a trust directory or file, or a :class:`TrustPolicy`)
    the package must verify — the pulled ``FILE.sig`` as its detached signature — before
    anything is put in place; otherwise ``pull-unverified`` and nothing is written."""
    target = parse_fetchable(ref)
    reg = open_registry(target, auth, plain_http, registry)
    try:
        return _pull(reg, target, Path(out_dir), trust, progress)
    finally:
        if registry is None:
            reg.close()


def _pull(reg: Registry, target: Reference, out_dir: Path,
          trust: TrustPolicy | Path | str | None, progress: Progress) -> PullResult:
    repo = target.repository
    progress.phase("fetching the manifest")
    fetched = reg.get_manifest(repo, target.reference or "")
    pinned = target.with_digest(fetched.digest)
    manifest = parse_manifest(fetched.data, f"the manifest of {pinned}")
    layer = check_package_manifest(manifest, str(pinned))
    if layer.size > MAX_PACKAGE:
        raise PackageError(f"{pinned} is a package of {layer.size} bytes, more than "
                           f"{MAX_PACKAGE}", code="oci-too-large",
                           hint="this is not a package this tool would build")
    config = read_config(reg.get_small_blob(repo, manifest.config, MAX_CONFIG), str(pinned))
    if LAYER_TYPES[config.format] != layer.media_type:
        raise PackageError(f"{pinned}: its config says {config.format!r} but its layer is "
                           f"{layer.media_type}", code="oci-manifest",
                           hint="the artifact was not pushed by cloacinactl push")
    name = _file_name(layer.annotation(TITLE)) or \
        _file_name(f"{config.name}-{config.version}.cloacina") or "package.cloacina"
    newest = newest_referrers(reg, repo, fetched.digest)
    sidecars = fetch_referrers(reg, repo, fetched.digest, newest, progress)
    result = PullResult(str(pinned), fetched.digest, str(out_dir / name), layer.size,
                        config.format, config.name, config.version,
                        referrers={t: d.digest for t, d in newest.items()})
    _fetch_and_place(reg, repo, layer, sidecars, out_dir, name, trust, result, progress)
    return result


def _file_name(name: str | None) -> str | None:
    """A name to write the package under: a plain file name ending in ``.cloacina``
    (so a pull writes only NAME.cloacina and its sidecars), else None."""
    safe = safe_file_name(name)
    return safe if safe is not None and safe.endswith(".cloacina") else None


def read_config(data: bytes, where: str) -> PackageConfig:
    """The config blob, read totally."""
    try:
        value = strict_json(data)
    except ValueError as exc:
        raise PackageError(f"the config of {where} is malformed: {exc}",
                           code="oci-manifest", hint="the artifact was not pushed by "
                           "cloacinactl push") from None
    pkg = value.get("package") if isinstance(value, dict) else None
    fmt = value.get("format") if isinstance(value, dict) else None
    if not isinstance(pkg, dict) or fmt not in LAYER_TYPES or not all(
            isinstance(pkg.get(k), str) for k in ("name", "version")):
        raise PackageError(f"the config of {where} is not a cloacina package's",
                           code="oci-manifest",
                           hint="the artifact was not pushed by cloacinactl push")
    return PackageConfig(fmt, pkg["name"], pkg["version"])


def newest_referrers(reg: Registry, repo: str, digest: str) -> dict[str, Descriptor]:
    """The newest referrer of each kind this tool writes beside a package, by artifact
    type (the registry's listing, asked once)."""
    newest: dict[str, Descriptor] = {}
    for desc in reg.referrers(repo, digest):
        if desc.artifact_type in SIDECARS:
            newest[desc.artifact_type] = desc
    return newest


def fetch_referrers(reg: Registry, repo: str, digest: str,
                    newest: dict[str, Descriptor], progress: Progress) -> dict[str, bytes]:
    """The file of each referrer in ``newest`` (:func:`newest_referrers`), by artifact
    type.  A referrer whose manifest does not name this package as its subject, or whose
    file does not match its digest, is refused."""
    progress.phase("fetching the referrers")
    out = {}
    for artifact_type, desc in newest.items():
        fetched = reg.get_manifest(repo, desc.digest)
        manifest = parse_manifest(fetched.data, f"referrer {desc.digest}")
        _check_referrer(manifest, digest, artifact_type, desc.digest)
        out[artifact_type] = reg.get_small_blob(repo, manifest.layers[0],
                                                MAX_SIDECAR[artifact_type])
    return out


def _check_referrer(manifest: ImageManifest, subject: str, artifact_type: str,
                    digest: str) -> None:
    wrong = None
    if manifest.subject is None or manifest.subject.digest != subject:
        wrong = "names another subject"
    elif manifest.artifact_type != artifact_type:
        wrong = f"is of type {str(manifest.artifact_type)[:100]!r}, not {artifact_type}"
    elif len(manifest.layers) != 1 or manifest.layers[0].media_type != \
            SIDECARS[artifact_type][1]:
        wrong = "does not hold one file of the expected media type"
    if wrong:
        raise PackageError(f"referrer {digest} of {subject} {wrong}", code="oci-manifest",
                           hint="the registry's referrers index lists a manifest that does "
                                "not belong there; nothing was written")


def _fetch_and_place(reg: Registry, repo: str, layer: Descriptor, sidecars: dict[str, bytes],
                     out_dir: Path, name: str, trust: TrustPolicy | Path | str | None,
                     result: PullResult, progress: Progress) -> None:
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        private = Path(tempfile.mkdtemp(prefix=".cloacina-pull-", dir=out_dir))
    except OSError as exc:
        raise unwritable(out_dir / name, exc) from None
    placed = False
    try:
        staged = _stage(reg, repo, layer, sidecars, private, out_dir, name, progress)
        if trust is not None:
            result.signed_by = _verify(staged, out_dir / name, trust, result, progress)
            result.verified = True
        _place(staged, out_dir, name, result)
        placed = True
    finally:
        shutil.rmtree(private, ignore_errors=True)
        if created and not placed:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # the directory this pull made, left empty


def _stage(reg: Registry, repo: str, layer: Descriptor, sidecars: dict[str, bytes],
           private: Path, out_dir: Path, name: str, progress: Progress) -> dict[str, Path]:
    """Download the package and write its sidecars into ``private``, each made durable;
    the staged files by suffix ("" for the package).  A file that cannot be written is
    named as the one in ``out_dir`` it would become."""
    staged = {"": private / name}
    staged.update({SIDECARS[t][0]: private / (name + SIDECARS[t][0]) for t in sidecars})
    progress.phase("downloading the package")
    try:
        with open(staged[""], "wb") as fh, durable(fh):
            reg.get_blob(repo, layer, fh, progress=progress)
        for artifact_type, data in sidecars.items():
            with open(staged[SIDECARS[artifact_type][0]], "wb") as fh, durable(fh):
                fh.write(data)
    except OSError as exc:
        raise unwritable(out_dir / name, exc) from None
    return staged


def _verify(staged: dict[str, Path], final: Path, trust: TrustPolicy | Path | str,
            result: PullResult, progress: Progress) -> list[str]:
    """Verify the staged package; it must also be the package its config names."""
    from ..ops.validate import ValidationPolicy, validate_package
    from ..trust.policy import TrustPolicy, policy_from_options, require

    sig = staged.get(SIDECARS[SIGNATURE_TYPE][0])
    policy = trust if isinstance(trust, TrustPolicy) else policy_from_options(trust)
    policy = require(dataclasses.replace(policy, detached=sig))
    progress.phase("verifying the package")
    report = validate_package(staged[""], ValidationPolicy(trust=policy), shown_as=final,
                              progress=progress)
    if not report.ok:
        raise PackageError(f"{result.reference} did not verify; nothing was written",
                           code="pull-unverified", findings=report.errors,
                           hint="the package or its signature is not what a trusted key "
                                "signed; do not use it ('cloacinactl verify' explains)")
    if (report.name, report.version) != (result.name, result.version):
        raise PackageError(f"{result.reference}: its config says {result.name} "
                           f"{result.version} but the package is {report.name} "
                           f"{report.version}; nothing was written", code="oci-manifest",
                           hint="the artifact's metadata was changed after the push")
    return list(report.verified_by)


def _place(staged: dict[str, Path], out_dir: Path, name: str, result: PullResult) -> None:
    """Rename the staged files into place (package first); a sidecar in ``out_dir`` that
    the registry did not have is stale beside the new package and is removed."""
    try:
        for suffix in ["", *(s for s, _ in SIDECARS.values())]:
            final = out_dir / (name + suffix)
            if suffix in staged:
                os.chmod(staged[suffix], 0o644)
                os.replace(staged[suffix], final)
            elif suffix and final.is_file():
                final.unlink()
                result.removed.append(str(final))
    except OSError as exc:
        raise unwritable(out_dir / name, exc) from None
    sig, prov = SIDECARS[SIGNATURE_TYPE][0], SIDECARS[PROVENANCE_TYPE][0]
    result.signature = str(out_dir / (name + sig)) if sig in staged else None
    result.provenance = str(out_dir / (name + prov)) if prov in staged else None
