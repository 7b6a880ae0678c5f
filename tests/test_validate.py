"""Validation beyond hostile archives: host compatibility, policies, the library API."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from cloacina_build import (
    Limits,
    PackageError,
    ValidationPolicy,
    ensure_valid,
    open_package,
    validate_package,
    validate_path,
)
from cloacina_build.build.builder import build_package

from .conftest import EXAMPLES
from .hostile import edit_manifest, payload_name, read_members, replace, write_members


def rewrite(base: Path, out: Path, edit) -> Path:
    return write_members(out, edit_manifest(read_members(base), edit), fix=True)


def test_requires_python_mismatch_is_a_warning(tmp_path, built_pipeline):
    def edit(m):
        m["package"]["requires_python"] = "<3"

    report = validate_package(rewrite(built_pipeline, tmp_path / "old.cloacina", edit))
    assert report.ok
    assert [(f.code, f.severity) for f in report.findings] == [("host-python", "warning")]
    assert "requires Python <3" in report.findings[0].message


def test_unsupported_wheel_tags_are_a_warning(tmp_path, built_pipeline):
    members = read_members(built_pipeline)
    old = payload_name(members)
    new_file = "data_pipeline-1.0.0-cp27-cp27m-win32.whl"
    members = replace(members, old, dict(members)[old], new_name="payload/" + new_file)

    def edit(m):
        m["payload"].update(path="payload/" + new_file, filename=new_file,
                            tags=["cp27-cp27m-win32"])
        for entry in m["members"]:
            if entry["path"] == old:
                entry["path"] = "payload/" + new_file
    out = write_members(tmp_path / "win.cloacina", edit_manifest(members, edit), fix=True)
    report = validate_package(out)
    assert [f.code for f in report.findings] == ["host-tags"]
    assert report.ok and report.findings[0].severity == "warning"
    assert validate_package(out, ValidationPolicy(check_host=False)).findings == []


def test_policy_limits_are_applied(built_pipeline):
    report = validate_package(built_pipeline, ValidationPolicy(limits=Limits(max_members=2)))
    assert [f.code for f in report.errors] == ["limit-member-count"]


def test_ensure_valid_raises_with_every_error(tmp_path, built_pipeline):
    assert ensure_valid(built_pipeline).ok
    members = read_members(built_pipeline)
    members = replace(members, "package.toml", dict(members)["package.toml"] + b"\n")
    bad = write_members(tmp_path / "bad.cloacina", members)
    with pytest.raises(PackageError) as info:
        ensure_valid(bad)
    assert [f.code for f in info.value.findings] == ["digest-mismatch", "digest-size-mismatch"]


def test_report_json_shape(built_pipeline):
    data = validate_package(built_pipeline).to_dict()
    assert data["valid"] is True and data["kind"] == "package"
    assert data["package"] == {"name": "data-pipeline", "version": "1.0.0"}
    assert data["digest"] == open_package(built_pipeline).digest
    json.dumps(data)


def test_validate_path_dispatches_on_directories(built_pipeline):
    assert validate_path(EXAMPLES / "order-etl").kind == "project"
    assert validate_path(built_pipeline).kind == "package"


def test_validation_leaves_no_temporary_files(tmp_path, built_pipeline, monkeypatch):
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    seen: list[list[str]] = []
    from cloacina_build.ops.checks import wheel

    original = wheel.wheel_findings

    def spy(*args, **kwargs):
        seen.append(sorted(os.listdir(private)))
        return original(*args, **kwargs)
    monkeypatch.setattr(wheel, "wheel_findings", spy)
    assert validate_package(built_pipeline).ok
    assert seen and seen[0] and seen[0][0].startswith("cloacina-validate-")
    assert os.listdir(private) == [] and os.listdir(cwd) == []


def test_isolated_build(tmp_path):
    """--isolated builds in a fresh environment fetched from the package index."""
    if os.environ.get("CLOACINA_OFFLINE"):
        pytest.skip("CLOACINA_OFFLINE is set: no package index to build an isolated env")
    result = build_package(EXAMPLES / "order-etl", tmp_path, isolated=True)
    assert validate_package(result.path).ok


def test_manifest_is_checked_by_the_typed_parser_not_jsonschema(built_pipeline, monkeypatch):
    """jsonschema on a 5 MB manifest took seconds; the typed parser is the check now."""
    from cloacina_build.format import schemas

    real = schemas.schema_findings

    def guard(instance, name, **kwargs):
        assert name != "manifest", "validate ran jsonschema over manifest.json"
        return real(instance, name, **kwargs)
    monkeypatch.setattr(schemas, "schema_findings", guard)
    assert validate_package(built_pipeline).ok


def test_an_unusable_manifest_is_an_error_carrying_its_findings(tmp_path, built_pipeline):
    def edit(m):
        m["workflow"]["tasks"][0]["retry"] = {"attempts": "3"}
        m["build"]["tool"] = "other"

    bad = rewrite(built_pipeline, tmp_path / "bad.cloacina", edit)
    with pytest.raises(PackageError) as info:
        open_package(bad)
    assert info.value.code == "schema-manifest" and "\n" not in info.value.message
    messages = sorted(f.message for f in info.value.findings)
    assert len(messages) == 2 and "'build.tool'" in messages[0] \
        and "'workflow.tasks.0.retry'" in messages[1]
    report = validate_package(bad)
    assert [f.code for f in report.errors] == ["manifest-unusable", "schema-manifest",
                                               "schema-manifest"]
    assert report.name is None and report.digest is not None


def test_findings_carry_the_severity_enum():
    from cloacina_build.findings import Finding, error, warning
    from cloacina_build.model import Severity

    assert error("graph-cycle", "m").severity is Severity.ERROR
    assert warning("graph-cycle", "m").severity is Severity.WARNING
    legacy = Finding("graph-cycle", "warning", "m", "here")  # a plain string still works
    assert legacy.severity is Severity.WARNING and not legacy.is_error
    assert legacy.to_dict() == {"code": "graph-cycle", "severity": "warning", "location": "here",
                                "message": "m"}
    assert json.dumps(legacy.to_dict()) == json.dumps(
        {"code": "graph-cycle", "severity": "warning", "location": "here", "message": "m"})
    assert legacy.render() == "warning[graph-cycle] here: m"
