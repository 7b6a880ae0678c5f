"""Helpers for the write-side property tests: in-memory source trees, rendering values as
Python and Rust literals, and generated Python and Rust workflows."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import strategies as st

from cloacina_build import rulebook as rb
from cloacina_build.build.payload import Payload
from cloacina_build.model import NativeFacts, PayloadKind
from cloacina_build.project.config import Project

NO_SURROGATES = st.characters(blacklist_categories=("Cs",))


class DictTree:
    """A source tree held in memory: ``{"pkg/tasks.py": b"..."}``."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.dirs = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}

    def read(self, relpath: str) -> bytes | None:
        return self.files.get(relpath)

    def is_file(self, relpath: str) -> bool:
        return relpath in self.files

    def is_dir(self, relpath: str) -> bool:
        return relpath in self.dirs

    def display(self, relpath: str) -> str:
        return relpath


# -- literals in both languages --------------------------------------------------------

_RUST_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r",
                 "\0": "\\0"}


def _rust_char(c: str) -> str:
    if c in _RUST_ESCAPES:
        return _RUST_ESCAPES[c]
    return f"\\u{{{ord(c):x}}}" if ord(c) < 0x20 or ord(c) == 0x7F else c


def rust_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_rust_char(c) for c in value) + '"'
    assert isinstance(value, list)
    return "[" + ", ".join(rust_literal(v) for v in value) + "]"


def _plain_float(f: float) -> bool:
    return re.fullmatch(r"-?[0-9]+\.[0-9]+", repr(f)) is not None


SPELLINGS = ["fixed", "Linear", "EXPONENTIAL", "exponential", "never", "Transient", "all",
             "random", "", "t0", "t1", "a b", "x" * 300]
SCALARS = st.one_of(
    st.integers(-3, 1005), st.integers(-(10**45), 10**45),
    st.integers(rb.MAX_DELAY_MS - 2, rb.MAX_DELAY_MS + 2),
    st.floats(-1e4, 1e4).filter(_plain_float), st.booleans(),
    st.sampled_from(SPELLINGS), st.text(NO_SURROGATES, max_size=6))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                   st.lists(st.lists(SCALARS, max_size=2), max_size=2))
TASK_KEYS = [k for k in rb.TASK_ARGS if k != "trigger_rules"]
ARGUMENTS = st.dictionaries(st.sampled_from(TASK_KEYS), VALUES, max_size=4)


def python_task_source(args: dict[str, object]) -> bytes:
    call = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return (f"import cloaca\n\n@cloaca.task({call})\ndef f(context):\n"
            "    return context\n").encode()


def rust_task_source(args: dict[str, object]) -> str:
    call = ", ".join(f"{k} = {rust_literal(v)}" for k, v in args.items())
    attribute = f"#[task({call})]" if call else "#[task]"
    return ('#[workflow(name = "wf")]\npub mod wf {\n    use super::*;\n\n'
            f"    {attribute}\n    pub fn f(context: &mut Context<Value>) -> Result<(), E> {{\n"
            "        Ok(())\n    }\n}\n")


# -- generated workflows ---------------------------------------------------------------

IDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,10}", fullmatch=True)
TEXT = st.text(NO_SURROGATES, max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**42), 10**42)
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6)
RETRY = st.fixed_dictionaries({}, optional={
    "retry_attempts": st.integers(0, 1000) | st.integers(-2, 1003),
    "retry_backoff": st.sampled_from(["fixed", "Linear", "exponential", "bogus"]),
    "retry_delay_ms": st.integers(0, 5000),
    "retry_max_delay_ms": st.integers(0, 10_000),
    "retry_condition": st.sampled_from(["never", "transient", "ALL"]),
    "retry_jitter": st.booleans()})
OPERATORS = st.sampled_from(["eq", "==", "Equals", "not_in", "gt", "LessThan", "exists",
                             "approximately"])


@st.composite
def _rule(draw, names: list[str], depth: int = 0) -> str:
    """A trigger rule written with the cloaca helpers, nested up to two levels."""
    kind = draw(st.sampled_from(["always", "task", "context", "combine"] if depth < 2
                                else ["always", "task", "context"]))
    if kind == "always":
        return "cloaca.always()"
    if kind == "task":
        helper = draw(st.sampled_from(["task_success", "task_failed", "task_skipped"]))
        return f"cloaca.{helper}({draw(st.sampled_from(names) | IDS)!r})"
    if kind == "context":
        return (f"cloaca.context_value({draw(TEXT)!r}, {draw(OPERATORS)!r}, "
                f"{draw(JSON)!r})")
    items = draw(st.lists(_rule(names, depth + 1), max_size=3))
    helper = draw(st.sampled_from(["all_of", "any_of", "none_of"]))
    return f"cloaca.{helper}([{', '.join(items)}])"


@st.composite
def python_workflow(draw) -> str:
    """The source of a workflow module: tasks (ids, dependencies among them, retry policies,
    trigger rules, docstrings), triggers, params and secrets."""
    n = draw(st.integers(1, 5))
    ids = draw(st.lists(IDS, min_size=n, max_size=n, unique=True))
    lines = ["import cloaca", ""]
    for i, tid in enumerate(ids):
        args = {"id": tid, "dependencies": draw(st.lists(st.sampled_from(ids[:i] or ["x"]),
                                                         max_size=3)) if i else []}
        args.update(draw(RETRY))
        call = ", ".join(f"{k}={v!r}" for k, v in args.items())
        if draw(st.booleans()):
            call += f", trigger_rules={draw(_rule(ids))}"
        lines += [f"@cloaca.task({call})",
                  f"{'async ' if draw(st.booleans()) else ''}def f{i}(context):",
                  f"    {draw(TEXT)!r}", "    return context", ""]
    if draw(st.booleans()):
        schedule = draw(st.sampled_from(['cron="*/5 * * * *"', 'poll_interval="30s"',
                                         'poll_interval="5 minutes"']))
        lines += [f"@cloaca.trigger({schedule}, name={draw(IDS)!r}, "
                  f"allow_concurrent={draw(JSON)!r})", "def trig(context):",
                  "    return context", ""]
    if draw(st.booleans()):
        params = draw(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
                                      st.tuples(st.sampled_from(["str", "int", "float",
                                                                 "bool", "list", "dict"]),
                                                st.none() | JSON), max_size=3))
        call = ", ".join(f"{k}={t}" if d is None else f"{k}=({t}, {d!r})"
                         for k, (t, d) in params.items())
        secrets = ", ".join(repr(s) for s in draw(st.lists(TEXT, max_size=2)))
        lines += [f"@cloaca.workflow_params({call})", f"@cloaca.workflow_secrets({secrets})",
                  "def configure(context):", "    return context", ""]
    return "\n".join(lines)


@st.composite
def rust_workflow(draw) -> str:
    """A Rust workflow module with tasks whose attribute values are valid or not."""
    n = draw(st.integers(1, 5))
    ids = draw(st.lists(IDS, min_size=n, max_size=n, unique=True))
    out = ['use cloacina_workflow::{task, workflow, Context, TaskError};', "",
           '#[workflow(name = "wf")]', "pub mod wf {", "    use super::*;"]
    for i, tid in enumerate(ids):
        args: dict[str, object] = {"id": tid}
        if i:
            args["dependencies"] = draw(st.lists(st.sampled_from(ids[:i]), max_size=3))
        args.update(draw(RETRY))
        call = ", ".join(f"{k} = {rust_literal(v)}" for k, v in args.items())
        asyncness = "async " if draw(st.booleans()) else ""
        out += ["", f"    /// {draw(TEXT)!r}", f"    #[task({call})]",
                f"    pub {asyncness}fn f{i}(_c: &mut Context<serde_json::Value>)"
                " -> Result<(), TaskError> {", "        Ok(())", "    }"]
    out.append("}")
    return "\n".join(out) + "\n"


# -- the manifest a build would write, without building --------------------------------

def stub_project(language: str = "python") -> Project:
    meta = {"language": language, "workflow_name": "wf", "entry_module":
            "wf.tasks" if language == "python" else "wf"}
    return Project(Path("."), "canonical" if language == "python" else "cargo",
                   Path("package.toml"), "wf-test", "1.0.0", meta, Path("."))


NATIVE = NativeFacts(target="x86_64-unknown-linux-gnu", os="linux", arch="x86_64",
                     elf_class=64, machine="EM_X86_64", endianness="little",
                     glibc_floor="2.17", needed=("libc.so.6",),
                     exported_symbols=("cloacina_workflow_metadata",))


def stub_payload(found, language: str = "python") -> Payload:
    if language == "python":
        return Payload(Path("wf_test-1.0.0-py3-none-any.whl"), PayloadKind.WHEEL,
                       ["py3-none-any"], "1.0.0", "hatchling.build", found)
    return Payload(Path("libwf.so"), PayloadKind.NATIVE, [NATIVE.target], "1.0.0",
                   "prebuilt (--native-lib)", found, NATIVE)
