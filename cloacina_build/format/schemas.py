"""The JSON Schemas in ``schemas/`` checked by jsonschema itself: the reference the tests
hold the library's own checkers to (``schema_subset`` for configuration and package.toml,
``Manifest.parse`` for manifests).  Nothing on a command's path imports jsonschema."""

from __future__ import annotations

from functools import cache
from typing import Any

from ..errors import did_you_mean
from ..findings import Finding, error
from ..schema_subset import data_dir, load_schema

__all__ = ["data_dir", "load_schema", "schema_findings"]


@cache
def _validator(name: str):
    import jsonschema

    schema = load_schema(name)
    # The schemas are fixed files shipped with the package; tests/test_schemas.py checks
    # them against their meta-schema once, so no process pays for it at run time.
    return jsonschema.validators.validator_for(schema)(schema)


def _where(base: str, path) -> str:
    parts = [str(p) for p in path]
    return base + (" " + ".".join(parts) if parts else "")


def schema_findings(instance: Any, name: str, *, code: str, location: str) -> list[Finding]:
    """Every way ``instance`` breaks schema ``name``, as findings (sorted, stable)."""
    try:
        errors = list(_validator(name).iter_errors(instance))
    except RecursionError:
        return [error(code, "the document nests too deeply to be checked", location)]
    out: list[Finding] = []
    for err in errors:
        at = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = err.schema.get("properties", {})
            for key in sorted(set(err.instance) - set(allowed)):
                table = f"[{at}]" if at else "the top level"
                out.append(
                    error(
                        code,
                        f"unknown key '{key}' in {table}{did_you_mean(key, allowed)}",
                        location,
                    )
                )
            continue
        field = f"'{at}'" if at else "the document"
        out.append(error(code, f"{field}: {_short(err)}", location))
    return sorted(out, key=lambda f: f.message)


def _short(err) -> str:
    msg = err.message
    return msg if len(msg) <= 200 else msg[:197] + "..."
