"""``package.toml`` against the manifest, and the payload's name, identity and tags."""

from __future__ import annotations

from ...findings import Finding, error
from ...format import manifest as mf
from ...format.wheel import parse_name, same_name
from ...model import Manifest, PackageMetadata, PayloadKind


def consistency_findings(manifest: Manifest, toml: PackageMetadata | None) -> list[Finding]:
    """Every disagreement between the two descriptions, and in the payload's naming.
    ``toml`` is None when package.toml is unusable (already reported)."""
    out = _toml_findings(manifest, toml) if toml is not None else []
    payload = manifest.payload
    if payload.path != mf.PAYLOAD_DIR + payload.filename:
        out.append(error("payload-name", f"payload path {payload.path!r} does not match "
                         f"its file name {payload.filename!r}", mf.MANIFEST))
    listed = {m.path: m for m in manifest.members}
    entry = listed.get(payload.path)
    if entry is None or (entry.sha256, entry.size) != (payload.sha256, payload.size):
        out.append(error("payload-unlisted", "the payload's digest and size must also be "
                         "listed in members", mf.MANIFEST))
    if payload.kind is PayloadKind.NATIVE:
        return out + _native_tags(manifest)
    return out + _wheel_identity(manifest)


def _toml_findings(manifest: Manifest, toml: PackageMetadata) -> list[Finding]:
    pkg, wf, meta = manifest.package, manifest.workflow, toml.metadata
    pairs = [("name", toml.name, pkg.name),
             ("version", toml.version, pkg.version),
             ("language", meta.get("language"), pkg.language.value),
             ("workflow_name", meta.get("workflow_name"), wf.name),
             ("entry_module", meta.get("entry_module"), wf.entry_module)]
    return [error("metadata-mismatch", f"package.toml says {key} = {in_toml!r} but the "
                  f"manifest says {in_manifest!r}", mf.PACKAGE_TOML)
            for key, in_toml, in_manifest in pairs if in_toml != in_manifest]


def _native_tags(manifest: Manifest) -> list[Finding]:
    target = manifest.native.target if manifest.native is not None else None
    if list(manifest.payload.tags) == [target]:
        return []
    return [error("payload-tags", f"a native payload's tags must be its target "
                  f"[{target!r}], not {list(manifest.payload.tags)}", mf.MANIFEST)]


def _wheel_identity(manifest: Manifest) -> list[Finding]:
    payload, pkg = manifest.payload, manifest.package
    try:
        wheel = parse_name(payload.filename)
    except ValueError as exc:
        return [error("payload-name", str(exc), mf.MANIFEST)]
    out = []
    if not same_name(wheel.name, pkg.name) or wheel.version != _norm_version(pkg.version):
        out.append(error("payload-identity", f"the wheel is {wheel.name} {wheel.version} "
                         f"but the package is {pkg.name} {pkg.version}", payload.path))
    if wheel.tags != sorted(payload.tags):
        out.append(error("payload-tags", f"the wheel's file name has tags {wheel.tags} but "
                         f"the manifest says {sorted(payload.tags)}", mf.MANIFEST))
    return out


def _norm_version(version: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(version))
    except InvalidVersion:
        return version
