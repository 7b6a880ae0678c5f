"""The total parser behind :meth:`cloacina_build.model.Manifest.parse`.

Any bytes in, a :class:`~cloacina_build.model.Manifest` or findings out: wrong JSON types,
huge integers, lone surrogates, NaN, deep nesting and unknown keys all become findings
(``manifest-syntax`` for bytes that are not a JSON object of text, ``schema-manifest`` for a
document of the wrong shape).  The field rules are the rule book's, so a manifest accepts
exactly what discovery would have produced.  ``schemas/manifest.schema.json`` documents the
same shape for other tools; a test keeps the two in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from . import rulebook as rb
from .fast_tasks import FastTasks
from .findings import Finding, error
from .gcpause import gc_paused
from .json_reader import MAX_FINDINGS, Invalid, Reader, Stop, quoted
from .model.enums import Language, PayloadKind, TriggerKind
from .model.package import BuildInfo, Member, NativeFacts, PackageInfo, Payload
from .model.workflow import MISSING, Param, SourceLocation, Task, Trigger, Workflow
from .strict_json import clip, strict_json

M = TypeVar("M")  # the Manifest class, passed in: the model calls this module, not vice versa

LOCATION = "manifest.json"
SYNTAX = "manifest-syntax"
SCHEMA = "schema-manifest"
MAX_MEMBERS = 10_000  # an engine archive lists every source file; the engine allows 10,000 entries
MAX_SIZE = 1 << 40
ALGORITHMS = ("cloacina-ast-v1", "cloacina-rust-tokens-v1")
T = TypeVar("T")


def load_json(data: bytes, what: str = LOCATION) -> tuple[Any, list[Finding]]:
    """Strict JSON (see :func:`strict_json`), or a ``manifest-syntax`` finding."""
    try:
        return strict_json(data), []
    except ValueError as exc:
        return None, [error(SYNTAX, f"{what} is {exc}", what)]


def _location(r: Reader, value: Any, path: str) -> SourceLocation:
    v = r.obj(value, path, ("file", "line"))
    file, line = r.each(lambda: r.text(v["file"], f"{path}.file", 1024),
                        lambda: r.integer(v["line"], f"{path}.line", 0, 1 << 31))
    return SourceLocation(file, line)


def _task(r: Reader, fast: FastTasks, value: Any, path: str) -> Task:
    task = fast.task(value)
    return task if task is not None else _task_full(r, value, path)


def _task_full(r: Reader, value: Any, path: str) -> Task:
    v = r.obj(value, path, ("id", "function", "dependencies", "retry", "trigger_rules",
                            "is_async", "doc", "source", "fingerprint"))
    fields = r.each(
        lambda: r.rule(lambda: rb.task_id(v["id"]), f"{path}.id"),
        lambda: r.rule(lambda: rb.function_ref(v["function"]), f"{path}.function"),
        lambda: _dependencies(r, v["dependencies"], f"{path}.dependencies"),
        lambda: r.canonical(r.rule(lambda: rb.retry(r.obj(
            v["retry"], f"{path}.retry", (), ("attempts", "backoff", "delay_ms",
                                              "max_delay_ms", "condition", "jitter"))),
            f"{path}.retry"), v["retry"], f"{path}.retry"),
        lambda: None if v["trigger_rules"] is None else
        r.canonical(r.rule(lambda: rb.trigger_rule(v["trigger_rules"]),
                           f"{path}.trigger_rules"), v["trigger_rules"],
                    f"{path}.trigger_rules"),
        lambda: r.boolean(v["is_async"], f"{path}.is_async"),
        lambda: r.text(v["doc"], f"{path}.doc", rb.MAX_DOC, nullable=True),
        lambda: _location(r, v["source"], f"{path}.source"),
        lambda: r.rule(lambda: rb.sha256_hex(v["fingerprint"], "fingerprint", SCHEMA),
                       f"{path}.fingerprint"),
    )
    return Task(*fields)


def _dependencies(r: Reader, value: Any, path: str) -> tuple[str, ...]:
    if isinstance(value, list) and len(set(map(_hashable, value))) != len(value):
        raise r.fail(path, "has non-unique elements")
    return r.rule(lambda: rb.dependencies(value), path)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _trigger(r: Reader, value: Any, path: str) -> Trigger:
    v = r.obj(value, path, ("name", "function", "on", "kind", "schedule", "options", "source"))
    name, function, on, kind, schedule, options, source = r.each(
        lambda: r.text(v["name"], f"{path}.name", rb.MAX_NAME, min_len=1),
        lambda: r.rule(lambda: rb.function_ref(v["function"]), f"{path}.function"),
        lambda: r.text(v["on"], f"{path}.on", rb.MAX_NAME, min_len=1),
        lambda: r.choice(v["kind"], f"{path}.kind", tuple(k.value for k in TriggerKind)),
        lambda: r.text(v["schedule"], f"{path}.schedule", rb.MAX_NAME, min_len=1),
        lambda: r.obj(v["options"], f"{path}.options", (), tuple(rb.TRIGGER_ARGS)),
        lambda: _location(r, v["source"], f"{path}.source"),
    )
    key = "cron" if kind == "cron" else "poll_interval"
    values = {**options, "name": name, "on": on, key: schedule}
    return r.canonical(r.rule(lambda: rb.trigger(values, function=function,
                                                 default_name=name, workflow=on,
                                                 source=source, code=SCHEMA), path), v, path)


def _param(r: Reader, value: Any, path: str) -> Param:
    v = r.obj(value, path, ("name", "type", "required", "source"), ("default",))
    name, required, source = r.each(
        lambda: r.text(v["name"], f"{path}.name", rb.MAX_NAME, min_len=1),
        lambda: r.boolean(v["required"], f"{path}.required"),
        lambda: _location(r, v["source"], f"{path}.source"),
    )
    if required == ("default" in v):
        raise r.fail(path, "'required' must be true exactly when there is no 'default'")
    return r.canonical(r.rule(lambda: rb.param(name, v["type"], source,
                                               v.get("default", MISSING), code=SCHEMA),
                              path), v, path)


def _workflow(r: Reader, value: Any, path: str) -> Workflow:
    fast = FastTasks()
    v = r.obj(value, path, ("name", "entry_module", "fingerprint", "fingerprint_algorithm",
                            "tasks", "triggers", "params", "secrets"))
    fields = r.each(
        lambda: r.text(v["name"], f"{path}.name", 128),
        lambda: r.text(v["entry_module"], f"{path}.entry_module", 256),
        lambda: r.rule(lambda: rb.sha256_hex(v["fingerprint"], "fingerprint", SCHEMA),
                       f"{path}.fingerprint"),
        lambda: r.choice(v["fingerprint_algorithm"], f"{path}.fingerprint_algorithm",
                         ALGORITHMS),
        lambda: r.array(v["tasks"], f"{path}.tasks", rb.MAX_TASKS,
                        lambda e, p: _task(r, fast, e, p)),
        lambda: r.array(v["triggers"], f"{path}.triggers", rb.MAX_TRIGGERS,
                        lambda e, p: _trigger(r, e, p)),
        lambda: r.array(v["params"], f"{path}.params", rb.MAX_PARAMS,
                        lambda e, p: _param(r, e, p)),
        lambda: r.array(v["secrets"], f"{path}.secrets", rb.MAX_SECRETS,
                        lambda e, p: r.rule(lambda: rb.secret(e, SCHEMA), p)),
    )
    return Workflow(*fields)


def _package(r: Reader, value: Any, path: str) -> PackageInfo:
    v = r.obj(value, path, ("name", "version", "language", "requires_python"),
              ("description", "author"))
    name, version, language, description, author, requires = r.each(
        lambda: _package_name(r, v["name"], f"{path}.name"),
        lambda: r.text(v["version"], f"{path}.version", 64, min_len=1),
        lambda: r.choice(v["language"], f"{path}.language", tuple(x.value for x in Language)),
        lambda: r.text(v.get("description"), f"{path}.description", 4096, nullable=True),
        lambda: r.text(v.get("author"), f"{path}.author", 1024, nullable=True),
        lambda: r.text(v["requires_python"], f"{path}.requires_python", 256, nullable=True),
    )
    return PackageInfo(name, version, Language(language), description, author, requires)


def _package_name(r: Reader, value: Any, path: str) -> str:

    text = r.text(value, path, 128, min_len=1)
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", text):
        raise r.fail(path, f"{clip(repr(text))} is not a valid package name")
    return text


def _sha(r: Reader, value: Any, path: str) -> str:
    return r.rule(lambda: rb.sha256_hex(value, "sha256", SCHEMA), path)


def _payload(r: Reader, value: Any, path: str) -> Payload:
    v = r.obj(value, path, ("kind", "path", "filename", "size", "sha256", "tags"))
    kind, ppath, filename, size, sha, tags = r.each(
        lambda: r.choice(v["kind"], f"{path}.kind", tuple(k.value for k in PayloadKind)),
        lambda: _payload_path(r, v["path"], f"{path}.path"),
        lambda: r.text(v["filename"], f"{path}.filename", 240, min_len=1),
        lambda: r.integer(v["size"], f"{path}.size", 0, MAX_SIZE),
        lambda: _sha(r, v["sha256"], f"{path}.sha256"),
        lambda: r.array(v["tags"], f"{path}.tags", 256,
                        lambda e, p: r.text(e, p, 128), min_items=1),
    )
    return Payload(PayloadKind(kind), ppath, filename, size, sha, tags)


def _payload_path(r: Reader, value: Any, path: str) -> str:
    text = r.text(value, path, 255, min_len=1)
    if not text.startswith("payload/") or "/" in text[len("payload/"):] or \
            text == "payload/":
        raise r.fail(path, "must be 'payload/<file name>'")
    return text


def _member(r: Reader, value: Any, path: str) -> Member:
    quick = _plain_member(value)
    if quick is not None:
        return quick
    v = r.obj(value, path, ("path", "size", "sha256"))
    mpath, size, sha = r.each(lambda: r.text(v["path"], f"{path}.path", 255, min_len=1),
                              lambda: r.integer(v["size"], f"{path}.size", 0, MAX_SIZE),
                              lambda: _sha(r, v["sha256"], f"{path}.sha256"))
    return Member(mpath, size, sha)


def _plain_member(value: Any) -> Member | None:
    """A member every check below accepts, read without building its messages (a manifest
    lists one per file: tens of thousands); anything else takes the checked path."""
    if type(value) is not dict or len(value) != 3:
        return None
    mpath, size, sha = value.get("path"), value.get("size"), value.get("sha256")
    if type(mpath) is str and 1 <= len(mpath) <= 255 and mpath.isascii() \
            and type(size) is int and 0 <= size <= MAX_SIZE \
            and type(sha) is str and rb.SHA256_RE.fullmatch(sha):
        return Member(mpath, size, sha)
    return None


def _members(r: Reader, value: Any) -> tuple[Member, ...]:
    members = r.array(value, "members", MAX_MEMBERS, lambda e, p: _member(r, e, p),
                      min_items=2)
    seen: set[str] = set()
    for i, member in enumerate(members):
        if member.path in seen:
            raise r.fail(f"members.{i}.path", f"{quoted(member.path)} is listed twice")
        seen.add(member.path)
    return members


def _build(r: Reader, value: Any, path: str) -> BuildInfo:
    v = r.obj(value, path, ("tool", "tool_version", "python", "backend"),
              ("source_revision", "source_dirty", "source_date_epoch"))
    fields = r.each(
        lambda: r.choice(v["tool"], f"{path}.tool", ("cloacina-build",)),
        lambda: r.text(v["tool_version"], f"{path}.tool_version", 64),
        lambda: r.text(v["python"], f"{path}.python", 64),
        lambda: r.text(v["backend"], f"{path}.backend", 256),
        lambda: _revision(r, v.get("source_revision"), f"{path}.source_revision"),
        lambda: r.boolean(v.get("source_dirty"), f"{path}.source_dirty", nullable=True),
        lambda: None if "source_date_epoch" not in v else
        r.integer(v["source_date_epoch"], f"{path}.source_date_epoch", 0, 1 << 62),
    )
    return BuildInfo(*fields)


def _revision(r: Reader, value: Any, path: str) -> str | None:
    if value is None:
        return None
    text = r.text(value, path, 64)
    if not 40 <= len(text) <= 64 or any(c not in "0123456789abcdef" for c in text):
        raise r.fail(path, "must be 40 to 64 lowercase hex digits")
    return text


def _native(r: Reader, value: Any, path: str) -> NativeFacts:
    v = r.obj(value, path, ("target", "os", "arch", "elf_class", "machine", "endianness",
                            "glibc_floor", "needed", "exported_symbols"))
    fields = r.each(
        lambda: r.text(v["target"], f"{path}.target", 128),
        lambda: r.text(v["os"], f"{path}.os", 64),
        lambda: r.text(v["arch"], f"{path}.arch", 64),
        lambda: r.choice(v["elf_class"], f"{path}.elf_class", (32, 64)),
        lambda: r.text(v["machine"], f"{path}.machine", 64),
        lambda: r.choice(v["endianness"], f"{path}.endianness", ("little", "big")),
        lambda: _glibc(r, v["glibc_floor"], f"{path}.glibc_floor"),
        lambda: r.array(v["needed"], f"{path}.needed", 1000, lambda e, p: r.text(e, p, 256)),
        lambda: r.array(v["exported_symbols"], f"{path}.exported_symbols", 100_000,
                        lambda e, p: r.text(e, p, 4096)),
    )
    return NativeFacts(*fields)


def _glibc(r: Reader, value: Any, path: str) -> str | None:
    if value is None:
        return None
    text = r.text(value, path, 32, min_len=1)
    if not all(part.isdigit() and part.isascii() for part in text.split(".")):
        raise r.fail(path, "must be a version such as '2.17'")
    return text


def parse_manifest(data: bytes, make: Callable[..., M]) -> tuple[M | None, list[Finding]]:
    """``make`` builds the :class:`Manifest` from its parts (the model calls this module)."""
    with gc_paused():
        value, findings = load_json(data)
    if findings:
        return None, findings
    if not isinstance(value, dict):
        return None, [error(SYNTAX, "manifest.json is not a JSON object", LOCATION)]
    r = Reader(SCHEMA, LOCATION)
    try:
        with gc_paused():  # tens of thousands of model objects, none in a cycle (see gcpause)
            manifest = _manifest(r, value, make)
        return (None if r.findings else manifest), r.findings
    except Invalid:
        return None, r.findings
    except Stop:
        r.findings.append(error(SCHEMA, f"more than {MAX_FINDINGS} problems; the rest are "
                                "not listed", LOCATION))
        return None, r.findings
    except RecursionError:
        return None, [error(SCHEMA, "the document nests too deeply to be checked", LOCATION)]


def _manifest(r: Reader, value: dict[str, Any], make: Callable[..., M]) -> M:
    v = r.obj(value, "", ("format", "format_version", "package", "workflow", "payload",
                          "members", "build"), ("native",))
    fmt, version, package, workflow, payload, members, build, native = r.each(
        lambda: r.choice(v["format"], "format", ("cloacina-package",)),
        lambda: r.choice(v["format_version"], "format_version", (1,)),
        lambda: _package(r, v["package"], "package"),
        lambda: _workflow(r, v["workflow"], "workflow"),
        lambda: _payload(r, v["payload"], "payload"),
        lambda: _members(r, v["members"]),
        lambda: _build(r, v["build"], "build"),
        lambda: _native(r, v["native"], "native") if "native" in v else None,
    )
    if payload.kind == PayloadKind.NATIVE:
        if native is None:
            raise r.fail("native", "is required when the payload is native")
        if package.language != Language.RUST:
            raise r.fail("package.language", "must be rust when the payload is native")
    elif native is not None:
        raise r.fail("native", "is only allowed when the payload is native")
    return make(package, workflow, payload, members, build, native, fmt, version)


def _one(read: Callable[[Reader, Any, str], T], value: Any, path: str
         ) -> tuple[T | None, list[Finding]]:
    r = Reader(SCHEMA, LOCATION)
    try:
        found: T | None = read(r, value, path)
    except (Invalid, Stop):
        found = None
    except RecursionError:
        return None, [error(SCHEMA, f"'{path}': nests too deeply to be checked", LOCATION)]
    return (None if r.findings else found), r.findings


def parse_task(value: Any, path: str = "task") -> tuple[Task | None, list[Finding]]:
    """One task in the manifest's JSON shape (for readers of discovery output)."""
    return _one(lambda r, v, p: _task(r, FastTasks(), v, p), value, path)


def parse_trigger(value: Any, path: str = "trigger") -> tuple[Trigger | None, list[Finding]]:
    return _one(_trigger, value, path)


def parse_param(value: Any, path: str = "param") -> tuple[Param | None, list[Finding]]:
    return _one(_param, value, path)
