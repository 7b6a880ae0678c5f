"""The shipped JSON Schemas are valid and are the ones the validator uses."""

from __future__ import annotations

import json

import jsonschema
import pytest

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
