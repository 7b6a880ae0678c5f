"""Whether this machine can run the payload: warnings, since the package itself is fine."""

from __future__ import annotations

import platform

from ...findings import Finding, error, warning
from ...format import manifest as mf
from ...model import Manifest, PayloadKind


def host_findings(manifest: Manifest) -> list[Finding]:
    if manifest.payload.kind is PayloadKind.NATIVE:
        from ...format.elf import host_problems

        assert manifest.native is not None  # the parser requires it for a native payload
        return [warning("host-native", f"this machine cannot load the library: {problem}")
                for problem in host_problems(manifest.native)]
    return _python_findings(manifest.package.requires_python) + _tag_findings(manifest)


def _python_findings(spec: str | None) -> list[Finding]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not spec:
        return []
    here = platform.python_version()
    try:
        if here not in SpecifierSet(spec):
            return [warning("host-python", f"requires Python {spec}; this is Python {here}")]
    except InvalidSpecifier:
        return [error("schema-manifest", f"requires_python {spec!r} is not a version "
                      "specifier", mf.MANIFEST)]
    return []


def _tag_findings(manifest: Manifest) -> list[Finding]:
    from packaging.tags import sys_tags

    tags = set(manifest.payload.tags)
    if tags & {str(t) for t in sys_tags()}:
        return []
    return [warning("host-tags", "no wheel tag of the payload "
                    f"({', '.join(sorted(tags))}) is supported by this interpreter")]
