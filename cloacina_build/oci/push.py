"""``push_package``: a package file, and the ``FILE.sig`` and ``FILE.intoto.jsonl`` beside
it, into a registry; ``push_referrer``: one more referrer for a package already there."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PackageError, UsageError
from ..findings import Finding, error
from ..progress import NO_PROGRESS, Progress
from .artifact import (
    EMPTY,
    EMPTY_DESCRIPTOR,
    MAX_SIDECAR,
    PROVENANCE_TYPE,
    SIDECARS,
    SIGNATURE_TYPE,
    TITLE,
    FileFacts,
    config_json,
    package_manifest,
    referrer_manifest,
)
from .auth import Credentials
from .client import Registry
from .manifest import OCI_MANIFEST, Descriptor, sha256_digest
from .reference import Reference, default_tag, parse_fetchable, parse_reference


@dataclass(frozen=True)
class ReferrerResult:
    """A referrer pushed: its artifact type, the file it holds, its manifest digest."""

    artifact_type: str
    file: str
    digest: str
    subject: str

    def to_dict(self) -> dict[str, Any]:
        return {"artifact_type": self.artifact_type, "file": self.file,
                "digest": self.digest, "subject": self.subject}


@dataclass(frozen=True)
class PushResult:
    reference: str          # oci://HOST/REPO:TAG
    digest: str             # the package manifest's digest
    file: str
    size: int
    media_type: str         # the layer's: which format
    uploaded: int           # blobs sent (the others were there already)
    referrers: list[ReferrerResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "reference": self.reference, "digest": self.digest,
                "file": self.file, "size": self.size, "media_type": self.media_type,
                "uploaded_blobs": self.uploaded,
                "referrers": [r.to_dict() for r in self.referrers]}


def open_registry(ref: Reference, auth: Credentials | None, plain_http: bool,
                  registry: Registry | None) -> Registry:
    return registry or Registry(ref.api_host, plain_http=plain_http, auth=auth)


def push_package(path: Path | str, ref: str, *, auth: Credentials | None = None,
                 plain_http: bool = False, source: str | None = None,
                 registry: Registry | None = None,
                 progress: Progress = NO_PROGRESS) -> PushResult:
    """Push the package at ``path`` to ``ref`` (``oci://HOST/REPO[:TAG]``; the tag defaults
    to the package version with ``+`` as ``_``), then ``FILE.sig`` and
    ``FILE.intoto.jsonl`` beside it as referrers.  ``source``: the
    ``org.opencontainers.image.source`` annotation (a repository URL)."""
    from ..ops.describe import describe_path

    path = Path(path)
    target = parse_reference(ref)
    if target.digest:
        raise UsageError(f"cannot push to a digest ({ref})", code="oci-reference",
                         hint="push to oci://HOST/REPO:TAG (or without a tag: the version)")
    if not path.is_file():
        raise UsageError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}",
                         code="os-error", hint="push a .cloacina package file; "
                         "'cloacinactl package' builds one")
    progress.phase("reading the package")
    desc = describe_path(path)
    target = target if target.tag else target.with_tag(default_tag(desc.package.version))
    size = path.stat().st_size
    beside = [(t, file, _read_sidecar(file, t)) for t, file in sidecars(path)]
    _refuse_strangers(beside, path.name, None)  # malformed: refused before any upload
    reg = open_registry(target, auth, plain_http, registry)
    try:
        repo = target.repository
        progress.phase("uploading the package")
        digest, sent = reg.push_file(repo, path, size, progress=progress)
        _refuse_strangers(beside, path.name, digest)
        facts = FileFacts(path.name, size, digest)
        config = config_json(desc, facts)
        manifest = package_manifest(desc, facts, config, source)
        uploaded = int(sent) + reg.push_blob(repo, config, sha256_digest(config))
        data = manifest.to_bytes()
        digest = reg.put_manifest(repo, target.tag or "", data, OCI_MANIFEST)
        subject = Descriptor(OCI_MANIFEST, digest, len(data))
        referrers = [_push_sidecar(reg, repo, subject, file, artifact_type, progress, data)
                     for artifact_type, file, data in beside]
    finally:
        if registry is None:
            reg.close()
    return PushResult(str(target), digest, str(path), size, manifest.layers[0].media_type,
                      uploaded, referrers)


def sidecars(path: Path) -> list[tuple[str, Path]]:
    """The referrer files beside a package: ``FILE.sig``, ``FILE.intoto.jsonl``."""
    found = []
    for artifact_type, (suffix, _layer) in SIDECARS.items():
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            found.append((artifact_type, candidate))
    return found


def _read_sidecar(file: Path, artifact_type: str) -> bytes:
    limit = MAX_SIDECAR.get(artifact_type, 1 << 20)
    try:
        with open(file, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}", code="os-error") from None
    if len(data) > limit:
        raise UsageError(f"{file} is larger than {limit} bytes",
                         hint="is it a signature or an attestation of this tool?")
    return data


def _refuse_strangers(beside: list[tuple[str, Path, bytes]], name: str,
                      digest: str | None) -> None:
    """A ``FILE.sig`` or ``FILE.intoto.jsonl`` that is malformed, or (once ``digest`` is
    known) made for other bytes — the package was rebuilt or re-signed after it — would be
    published beside it and refused by every consumer: refuse them all, before the
    package is tagged."""
    sha256 = digest.removeprefix("sha256:") if digest is not None else None
    problems = [(str(file), f) for artifact_type, file, data in beside
                for f in _sidecar_findings(artifact_type, data, str(file), name, sha256)
                if f.is_error]
    if problems:
        files, found = sorted({file for file, _ in problems}), [f for _, f in problems]
        verb = "is" if len(files) == 1 else "are"
        raise PackageError(f"{' and '.join(files)} {verb} " + (
            "not about this package; nothing was tagged" if digest is not None else
            "not a signature or attestation this tool can read; nothing was sent"),
                           code=found[0].code, findings=found,
                           hint="sign or attest the package again (--force), or move the "
                                "stale file away")


def _sidecar_findings(artifact_type: str, data: bytes, where: str, name: str,
                      sha256: str | None) -> list[Finding]:
    if artifact_type == PROVENANCE_TYPE:
        from ..trust.provenance import subject_findings

        return subject_findings(data, where=where, name=name, sha256=sha256)
    if artifact_type == SIGNATURE_TYPE:
        from ..trust.signatures import read_detached

        sig, found = read_detached(data, where)
        if sig is not None and sha256 is not None and sig.package_hash != sha256:
            found.append(error("signature-wrong-package", "the detached signature was made "
                               "for other bytes (another package, or this one changed)",
                               where))
        return found
    return []


def _push_sidecar(reg: Registry, repo: str, subject: Descriptor, file: Path,
                  artifact_type: str, progress: Progress, data: bytes | None = None
                  ) -> ReferrerResult:
    progress.phase(f"pushing {file.name}")
    data = _read_sidecar(file, artifact_type) if data is None else data
    layer_type = SIDECARS[artifact_type][1] if artifact_type in SIDECARS else artifact_type
    layer = Descriptor.of(layer_type, data, annotations=((TITLE, file.name),))
    reg.push_blob(repo, EMPTY, EMPTY_DESCRIPTOR.digest)
    reg.push_blob(repo, data, layer.digest)
    manifest = referrer_manifest(subject, artifact_type, layer)
    body = manifest.to_bytes()
    desc = Descriptor(OCI_MANIFEST, sha256_digest(body), len(body),
                      artifact_type=artifact_type, annotations=manifest.annotations)
    reg.push_referrer_manifest(repo, body, desc, subject.digest)
    return ReferrerResult(artifact_type, str(file), desc.digest, subject.digest)


def push_referrer(ref_or_digest: str, file: Path | str, artifact_type: str, *,
                  auth: Credentials | None = None, plain_http: bool = False,
                  registry: Registry | None = None,
                  progress: Progress = NO_PROGRESS) -> ReferrerResult:
    """Add ``file`` as a referrer of type ``artifact_type`` (e.g. ``SIGNATURE_TYPE``,
    ``PROVENANCE_TYPE``) to the package manifest ``ref_or_digest`` names (a tag or a
    digest reference)."""
    target = parse_fetchable(ref_or_digest)
    reg = open_registry(target, auth, plain_http, registry)
    try:
        fetched = reg.get_manifest(target.repository, target.reference or "")
        subject = Descriptor(OCI_MANIFEST, fetched.digest, len(fetched.data))
        return _push_sidecar(reg, target.repository, subject, Path(file), artifact_type,
                             progress)
    finally:
        if registry is None:
            reg.close()
