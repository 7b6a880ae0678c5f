"""``cloacinactl new``: start a workflow project from a jinja2 template.

A template is a directory holding ``template.toml`` (a description and its variables, each
with a description and an optional default) and ``files/``: every file is rendered with
jinja2 when its name ends in ``.j2`` (the suffix is dropped) and copied as it is otherwise;
path components are rendered too, and a component ``dot-x`` becomes ``.x``.  A default
may use ``{{ cloacina_build_version }}`` and ``{{ cloacina_build_pin }}`` (see
``requirement``).  Built-in
templates live in ``templates/`` (shipped in the wheel); ``--template PATH`` takes a
user's own directory with the same conventions.  Generation happens in a temporary
directory beside the target and is renamed into place: a failure leaves nothing behind.
"""

from __future__ import annotations

import functools
import keyword
import os
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..__about__ import __version__
from ..errors import ProjectError, UsageError, did_you_mean
from ..fsutil import unwritable
from ..schema_subset import data_dir
from .config import snake_case
from .requirement import VARIABLE as REQUIREMENT
from .requirement import check_requirement, installed_requirement

_PACKAGE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_CRATE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
DERIVED = ("name", "module", "crate", "lib_name", "workflow", "cloacina_build_version",
           "cloacina_build_pin")


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    default: str | None


@dataclass
class Template:
    name: str
    path: Path
    description: str
    language: str
    variables: list[Variable] = field(default_factory=list)

    def default_of(self, name: str) -> str | None:
        """The default of variable ``name``; None when it has none or is not declared."""
        return next((v.default for v in self.variables if v.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "language": self.language,
                "variables": [{"name": v.name, "description": v.description,
                               "default": v.default} for v in self.variables]}


def builtin_dir() -> Path:
    return data_dir("templates")


def load_template(spec: str) -> Template:
    """A built-in template by name, or a user's template directory by path."""
    import tomlkit

    path = Path(spec)
    if not (os.sep in spec or spec.startswith(".") or path.is_dir() and
            (path / "template.toml").is_file()):
        path = builtin_dir() / spec
        if not (path / "template.toml").is_file():
            names = [t.name for t in list_templates()]
            raise UsageError(f"no template named '{spec}'{did_you_mean(spec, names)}",
                             hint=f"choose one of {', '.join(names)}, or pass a template "
                                  "directory")
    if not (path / "template.toml").is_file() or not (path / "files").is_dir():
        raise UsageError(f"{path} is not a template: it needs template.toml and files/")
    try:
        doc = tomlkit.parse((path / "template.toml").read_text("utf-8")).unwrap()
    except Exception as exc:  # tomlkit's errors, or bad text
        raise UsageError(f"{path / 'template.toml'} is not valid TOML: {exc}") from None
    variables = []
    for name, spec_ in (doc.get("variables") or {}).items():
        if not isinstance(spec_, dict):
            raise UsageError(f"{path / 'template.toml'}: variable '{name}' must be a table")
        default = spec_.get("default")
        variables.append(Variable(name, str(spec_.get("description", "")),
                                  None if default is None else _default(path, name, default)))
    return Template(path.name, path, str(doc.get("description", "")),
                    str(doc.get("language", "python")), variables)


@functools.cache
def tool_facts() -> dict[str, str]:
    """The derived names that do not depend on the project: a default may use them."""
    return {"cloacina_build_version": __version__,
            "cloacina_build_pin": installed_requirement()}


def _default(path: Path, name: str, default: object) -> str:
    """A variable's default; ``{{ cloacina_build_version }}`` and ``{{ cloacina_build_pin }}``
    in it are rendered (so ``--list`` shows the value a project would get)."""
    import jinja2

    text = str(default)
    if "{{" not in text and "{%" not in text:
        return text
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        return env.from_string(text).render(tool_facts())
    except jinja2.TemplateError as exc:
        raise UsageError(f"{path / 'template.toml'}: the default of variable '{name}' does "
                         f"not render: {exc}",
                         hint="a default may use cloacina_build_version and "
                              "cloacina_build_pin, not the project's names") from None


def list_templates() -> list[Template]:
    root = builtin_dir()
    return [load_template(str(p)) for p in sorted(root.iterdir())
            if (p / "template.toml").is_file()]


def derive(name: str, language: str) -> dict[str, str]:
    """The names every template may use, checked; raises UsageError."""
    if not _PACKAGE.match(name):
        raise UsageError(f"'{name}' is not a valid package name (letters, digits, '.', '_' "
                         "and '-', starting and ending with a letter or digit)")
    module = snake_case(name)
    if not module.isidentifier() or keyword.iskeyword(module) or module[0].isdigit():
        raise UsageError(f"'{name}' gives the module name '{module}', which is not a Python "
                         "identifier", hint="start the name with a letter")
    crate = name.replace(".", "-").replace("_", "-").lower()
    if language == "rust" and not _CRATE.match(crate):
        raise UsageError(f"'{name}' gives the crate name '{crate}', which Cargo refuses")
    return {"name": name, "module": module, "crate": crate, "lib_name": module,
            "workflow": module, **tool_facts()}


def _values(template: Template, derived: dict[str, str], given: dict[str, str]
            ) -> dict[str, str]:
    declared = {v.name for v in template.variables}
    for key in given:
        if key in DERIVED:
            raise UsageError(f"--var {key} is derived from the project name and cannot be set")
        if key not in declared:
            raise UsageError(f"template '{template.name}' has no variable '{key}'"
                             f"{did_you_mean(key, declared)}",
                             hint="'cloacinactl new --list' shows each template's variables")
    values = dict(derived)
    for var in template.variables:
        if var.name in given:
            values[var.name] = given[var.name]
        elif var.default is not None:
            values[var.name] = var.default
        else:
            raise UsageError(f"template '{template.name}' needs --var {var.name}=... "
                             f"({var.description})")
    _check_version(values.get("version"))
    if REQUIREMENT in values:
        check_requirement(values[REQUIREMENT])
    return values


def _check_version(version: str | None) -> None:
    from packaging.version import InvalidVersion, Version

    if version is None:
        return
    try:
        Version(version)
    except InvalidVersion:
        raise UsageError(f"--var version={version!r} is not a version (PEP 440)",
                         hint="use a version such as 0.1.0") from None


def create_project(name: str, *, template: str | Template = "python",
                   path: Path | str | None = None,
                   variables: dict[str, str] | None = None) -> Path:
    """A project ``name`` from ``template`` (a name, a directory, or a loaded template)."""
    tpl = template if isinstance(template, Template) else load_template(template)
    values = _values(tpl, derive(name, tpl.language), variables or {})
    target = Path(path) if path else Path.cwd() / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} already exists and is not empty; nothing was written",
                         hint="choose another --path or name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    except OSError as exc:
        raise unwritable(target, exc) from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        staging.chmod(0o777 & ~umask)
        _render_tree(tpl.path / "files", staging, values)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and str(exc.filename or staging).startswith(str(staging)):
            raise unwritable(target, exc) from None  # the staging directory is ours
        raise
    return target


def toml_string(value: object) -> str:
    """A TOML basic string holding ``value`` exactly (quotes, backslashes and control
    characters escaped): templates write ``description = {{ description | toml }}``, so a
    --var value can never break the file it lands in."""
    import json

    return json.dumps(str(value), ensure_ascii=False)


def yaml_string(value: object) -> str:
    """A YAML double-quoted scalar holding ``value`` exactly: every character outside
    YAML's printable set, and the line and paragraph separators, escaped."""
    out = []
    for ch in str(value):
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029)
              or 0xE000 <= code <= 0xFFFD or code >= 0x10000):
            out.append(ch)
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def rust_string(value: object) -> str:
    """A Rust string literal holding ``value`` exactly."""
    out = []
    for ch in str(value):
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    return '"' + "".join(out) + '"'


def one_line(value: object) -> str:
    """``value`` on one line, control characters as spaces (for comments)."""
    return "".join(ch if ch.isprintable() else " " for ch in str(value))


def _render_tree(source: Path, dest: Path, values: dict[str, Any]) -> None:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.filters.update(toml=toml_string, py=repr, rust=rust_string, line=one_line,
                       yaml=yaml_string, sh=shlex.quote)
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "target"))
        rel_dir = Path(dirpath).relative_to(source)
        for filename in sorted(filenames):
            if filename.endswith((".pyc", ".pyo")):
                continue
            rel = rel_dir / filename
            out_rel = Path(*[_render_name(env, part, values) for part in rel.parts])
            if out_rel.name.endswith(".j2"):
                out_rel = out_rel.with_name(out_rel.name[:-3])
            out = dest / out_rel
            if not out.resolve().is_relative_to(dest.resolve()):
                raise ProjectError(f"template path {rel} renders outside the project")
            out.parent.mkdir(parents=True, exist_ok=True)
            src = Path(dirpath) / filename
            if filename.endswith(".j2"):
                try:
                    text = env.from_string(src.read_text("utf-8")).render(values)
                except jinja2.TemplateError as exc:
                    raise ProjectError(f"template file {rel} does not render: {exc}") \
                        from None
                out.write_text(text, "utf-8")
            else:
                shutil.copyfile(src, out)
            out.chmod(0o755 if os.access(src, os.X_OK) else 0o644)


def _render_name(env, part: str, values: dict[str, Any]) -> str:
    import jinja2

    try:
        rendered = env.from_string(part).render(values) if "{{" in part else part
    except jinja2.TemplateError as exc:
        raise ProjectError(f"template path component {part!r} does not render: {exc}") \
            from None
    if rendered.startswith("dot-"):
        rendered = "." + rendered[4:]
    if not rendered or "/" in rendered or rendered in (".", ".."):
        raise ProjectError(f"template path component {part!r} renders to {rendered!r}")
    return rendered
