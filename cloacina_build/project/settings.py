"""This tool's own per-project settings: ``cloacina-build.toml`` beside the project's config.

The engine never reads this file (its ``[metadata]`` table is closed, and a project's
``package.toml`` is shipped to it), so choices that only matter to ``cloacinactl`` live
here.  Today one: the default package format::

    [package]
    format = "engine"     # what 'cloacinactl package' writes without --format

The file is optional; a key or value it does not know is an error (``config-settings``), so a
typo never silently falls back to the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ProjectError
from ..findings import Finding, error
from .config import read_toml

SETTINGS_FILE = "cloacina-build.toml"
FORMATS = ("cloacina", "engine")


@dataclass(frozen=True)
class Settings:
    format: str | None = None  # the default of 'package --format'


def load_settings(root: Path) -> Settings:
    """The settings in ``root``'s ``cloacina-build.toml``; defaults when there is none."""
    path = Path(root) / SETTINGS_FILE
    if not path.is_file():
        return Settings()
    doc = read_toml(path, SETTINGS_FILE)
    findings = _problems(doc)
    if findings:
        raise ProjectError(f"{SETTINGS_FILE} has {len(findings)} problem(s)",
                           code="config-settings",
                           findings=findings,
                           hint=f"{SETTINGS_FILE} takes [package] format = "
                                f"{' or '.join(repr(f) for f in FORMATS)}")
    package = doc.get("package", {})
    return Settings(format=package.get("format"))


def _problems(doc: dict) -> list[Finding]:
    out = [error("config-settings", f"unknown table or key '{key}'", SETTINGS_FILE)
           for key in doc if key != "package"]
    package = doc.get("package", {})
    if not isinstance(package, dict):
        return out + [error("config-settings", "[package] must be a table", SETTINGS_FILE)]
    out += [error("config-settings", f"unknown key [package] {key}", SETTINGS_FILE)
            for key in package if key != "format"]
    if "format" in package and package["format"] not in FORMATS:
        out.append(error("config-settings", f"[package] format must be one of "
                         f"{', '.join(FORMATS)}, not {package['format']!r}"[:200],
                         SETTINGS_FILE))
    return out
