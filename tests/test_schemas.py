"""The shipped JSON Schemas are valid and are the ones the validator uses."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.format.schemas import data_dir, load_schema

SCHEMAS = sorted(p.name.removesuffix(".schema.json") for p in data_dir("schemas").iterdir())


def test_both_schemas_ship():
    assert SCHEMAS == ["manifest", "package"]


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_valid_against_its_meta_schema(name):
    schema = load_schema(name)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_object_is_closed(name):
    """Unknown keys must be errors everywhere, so every object schema is closed."""
    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, path
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")
    walk(load_schema(name), name)


def test_schemas_are_plain_json_files():
    for path in data_dir("schemas").iterdir():
        json.loads(path.read_text("utf-8"))


def test_the_tools_own_wheel_ships_schemas_and_templates(tmp_path):
    """An installed cloacinactl finds schemas/ and templates/ inside its own package."""
    import zipfile
    from pathlib import Path

    import build

    root = Path(__file__).resolve().parent.parent
    wheel = build.ProjectBuilder(root).build("wheel", tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "cloacina_build/_data/schemas/manifest.schema.json" in names
    assert "cloacina_build/_data/schemas/package.schema.json" in names
    assert any(n.startswith("cloacina_build/_data/templates/") for n in names)


# The project reader checks package.toml with schema_subset (no jsonschema import on the
# package path); it must say exactly what jsonschema says.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8) | st.sampled_from(
    ["ok", "-bad-", "1.0", "", "x" * 130, "a.b", "wf_name", "python", "rust", "go",
     "cloacina", "cloacina-workflow-plugin"])
_VALUES = _TEXT | st.integers(-1, 3) | st.booleans() | st.none() | st.lists(_TEXT, max_size=2)
_KEYS = st.sampled_from(["name", "version", "interface", "interface_version", "extension",
                         "language", "workflow_name", "entry_module", "description", "author",
                         "requires_python", "nmae", "extra"])
_TABLE = st.dictionaries(_KEYS, _VALUES, max_size=6)
_DOCS = st.dictionaries(st.sampled_from(["package", "metadata", "tool"]),
                        _TABLE | _VALUES, max_size=3)


@settings(max_examples=300, deadline=None)
@given(_DOCS)
def test_the_subset_checker_agrees_with_jsonschema(doc):
    from cloacina_build.format.schemas import schema_findings
    from cloacina_build.schema_subset import subset_findings

    ours = subset_findings(doc, "package", code="config-schema", location="l")
    theirs = schema_findings(doc, "package", code="config-schema", location="l")
    assert ours == theirs


def test_the_subset_checker_refuses_keywords_it_does_not_know():
    from cloacina_build.schema_subset import UnsupportedSchema, subset_findings

    with pytest.raises(UnsupportedSchema):
        subset_findings({"workflow": {"tasks": [{}]}}, "manifest", code="config-schema",
                        location="l")
