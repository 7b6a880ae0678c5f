"""The text that shows an attestation: ``attest``, ``package --provenance`` and
``verify --provenance``.  Every string from an attestation is made printable."""

from __future__ import annotations

from .terminal import printable


def attestation_text(result, shown: str, *, indent: str = "") -> str:
    """What ``attest`` says about the attestation ``result`` written at ``shown`` (the path
    as shown), and (indented) ``package --provenance``."""
    facts = result.facts
    when = "attested after the build, from its build manifest" \
        if facts.attested_after_build else "attested at build time"
    lines = [f"wrote {shown}: build provenance of {result.package.name} "
             f"(sha256 {result.sha256[:16]})",
             f"  signed by {result.signer} (key {result.key_id[:16]}); {when}"]
    if result.replaced:
        lines.append("  replaced the provenance that was there")
    lines += [f"  {line}" for line in _fact_lines(facts)]
    return "\n".join(indent + printable(line) for line in lines)


def _dependency(dep) -> str:
    version = f" {dep.version}" if dep.version else ""
    return f"{dep.name or dep.uri or '?'}{version}"


def _fact_lines(facts) -> list[str]:
    lines = []
    if facts.source is not None:
        commit = facts.source.digest.get("gitCommit")
        shown = [facts.source.uri, f"commit {commit[:12]}" if commit else None]
        lines.append("source:     " + (f"{shown[0]} ({shown[1]})" if all(shown)
                                       else shown[0] or shown[1] or "?"))
    if facts.toolchain:
        lines.append("toolchain:  " + ", ".join(_dependency(d) for d in facts.toolchain))
    if facts.started_on or facts.finished_on:
        lines.append(f"built:      {facts.started_on or '?'} to {facts.finished_on or '?'}")
    if facts.invocation_id:
        lines.append(f"invocation: {facts.invocation_id}")
    return lines


def provenance_lines(verdict) -> list[str]:
    """``verify --provenance``: the attestation's verdict and the predicate's key facts."""
    from ..trust.provenance import MISSING

    if verdict.status == MISSING:
        return [f"provenance: {verdict.path}: missing"]
    who = f", attested by {verdict.signer} (key {verdict.key_id[:16]})" \
        if verdict.signer and verdict.key_id else ""
    state = "verified" if verdict.ok else f"NOT VERIFIED ({verdict.status})"
    lines = [f"provenance: {verdict.path}: {state}{who}"]
    facts = verdict.facts
    if facts is not None:
        lines += [f"  build type: {facts.build_type or '?'}",
                  f"  builder:    {facts.builder_id or '?'}"]
        lines += [f"  {line}" for line in _fact_lines(facts)]
        if facts.attested_after_build:
            lines.append("  attested after the build (facts from the package's manifest)")
    return lines
