"""One ``cloaca`` decorator, read statically into the typed model.

Arguments must be literals; every decision about their values is the rule book's
(:mod:`cloacina_build.rulebook`), so a Python task and a Rust task declaring the same values
are accepted or refused alike, with the same finding codes.  A refusal is a
:class:`Problem` carrying the syntax node whose line the finding names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .. import rulebook as rb
from ..model import MISSING, Param, Retry, SourceLocation, Task, Trigger
from .fingerprint import fingerprint_function
from .trigger_rules import HelperOf, read_rule
from .trigger_rules import unparse_short as _unparse

DECORATORS = ("task", "trigger", "workflow_params", "workflow_secrets")
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class Problem(Exception):
    """A declaration the rules refuse; ``code`` is set when the rule book chose one."""

    def __init__(self, message: str, node: ast.AST, code: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.code = code


@dataclass(frozen=True)
class FunctionRef:
    """``dependencies=[extract]``: a task function of the same module, named by its name."""

    name: str
    line: int


@dataclass
class TaskDraft:
    """A task whose dependencies are resolved once every module has been read."""

    task: Task                                  # dependencies still empty
    deps: list[str | FunctionRef]               # in declared order
    where: str                                  # the module, as findings name it


_SCALARS = (str, int, float, bool, type(None))


def literal(node: ast.AST, what: str) -> Any:
    if type(node) is ast.Constant and type(node.value) in _SCALARS:  # the usual case
        value = node.value
    else:
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise Problem(f"{what} must be a literal value, not '{_unparse(node)}' (decorator "
                          "arguments are read without running your code)", node) from None
    if not rb.is_json_data(value):
        raise Problem(f"{what} must be JSON-like data (strings, numbers, booleans, None, "
                      f"lists and dicts with string keys), not {rb._short(value)}", node)
    return value


@contextmanager
def judged(nodes: Mapping[str, ast.AST], fallback: ast.AST) -> Iterator[None]:
    """Turn the rule book's refusal into a Problem at the argument it names."""
    try:
        yield
    except rb.RuleViolation as v:
        raise _refused(v, nodes, fallback) from None


def keyword_nodes(deco: ast.expr, kind: str) -> dict[str, ast.expr]:
    """``name=node`` for a decorator call: keywords only, written out."""
    if not isinstance(deco, ast.Call):
        return {}
    if deco.args:
        raise Problem(f"@cloaca.{kind} takes keyword arguments only", deco.args[0])
    out: dict[str, ast.expr] = {}
    for kw in deco.keywords:
        if kw.arg is None:
            raise Problem(f"@cloaca.{kind} cannot take **kwargs: write the arguments out",
                          kw.value)
        out[kw.arg] = kw.value
    return out


def _refused(v: rb.RuleViolation, nodes: Mapping[str, ast.AST], fallback: ast.AST) -> Problem:
    node = nodes.get(v.argument, fallback) if v.argument is not None else fallback
    return Problem(v.message, node, v.code)


def read_task(node: FunctionNode, deco: ast.expr, module: str, relpath: str, where: str,
              helper_of: HelperOf) -> TaskDraft:
    kw = keyword_nodes(deco, "task")
    try:
        for key in kw:
            rb.task_argument(key)
    except rb.RuleViolation as v:
        raise _refused(v, kw, deco) from None
    values = {k: literal(v, k) for k, v in kw.items()
              if k not in ("dependencies", "trigger_rules")}
    try:
        task_id = rb.task_id(values.get("id", node.name))
        function = rb.function_ref(f"{module}:{node.name}")
    except rb.RuleViolation as v:
        raise _refused(v, kw, deco) from None
    deps = _dependencies(kw["dependencies"]) if "dependencies" in kw else []
    retry_args = {k: v for k, v in values.items() if k in rb.RETRY_ARGS}
    try:
        retry = rb.retry(retry_args) if retry_args else Retry()
    except rb.RuleViolation as v:
        raise _refused(v, kw, deco) from None
    rule = read_rule(kw["trigger_rules"], helper_of) if "trigger_rules" in kw else None
    task = Task(id=task_id, function=function, dependencies=(), retry=retry,
                trigger_rules=rule, is_async=isinstance(node, ast.AsyncFunctionDef),
                doc=rb.doc_line(ast.get_docstring(node)),
                source=SourceLocation(relpath, deco.lineno),
                fingerprint=fingerprint_function(node))
    return TaskDraft(task, deps, where)


def _dependencies(node: ast.AST) -> list[str | FunctionRef]:
    """Task ids as strings, or task functions of the same module by name; the rule book
    judges the strings (a refusal names the item at fault)."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        with judged({}, node):
            rb.dependencies(literal(node, "dependencies"))
    out: list[str | FunctionRef] = []
    literals: list[tuple[Any, ast.AST]] = []
    for item in node.elts:  # type: ignore[attr-defined]
        if isinstance(item, ast.Name):
            out.append(FunctionRef(item.id, item.lineno))
        else:
            value = literal(item, "a dependency")
            literals.append((value, item))
            out.append(value)
    try:
        rb.dependencies([value for value, _ in literals])
    except rb.RuleViolation as v:
        for value, item in literals:
            with judged({}, item):
                rb.dependencies([value])
        raise _refused(v, {}, node) from None
    return out


def read_trigger(node: FunctionNode, deco: ast.expr, module: str, relpath: str,
                 workflow: str) -> Trigger:
    kw = keyword_nodes(deco, "trigger")
    values = {k: literal(v, k) for k, v in kw.items()}
    with judged(kw, deco):
        return rb.trigger(values, function=f"{module}:{node.name}", default_name=node.name,
                          workflow=workflow, source=SourceLocation(relpath, node.lineno))


def read_params(deco: ast.expr, relpath: str) -> list[Param]:
    out: list[Param] = []
    for name, value in keyword_nodes(deco, "workflow_params").items():
        type_node, default = value, MISSING
        if isinstance(value, ast.Tuple):
            if len(value.elts) != 2:
                raise Problem(f"param '{name}' must be a type or a (type, default) pair",
                              value)
            type_node, default_node = value.elts
            default = literal(default_node, f"the default of param '{name}'")
        if isinstance(type_node, ast.Name):
            type_name = type_node.id
        elif isinstance(type_node, ast.Constant) and isinstance(type_node.value, str):
            type_name = type_node.value
        else:
            type_name = _unparse(type_node)
        with judged({}, type_node):
            out.append(rb.param(name, type_name, SourceLocation(relpath, value.lineno),
                                default))
    return out


def read_secrets(deco: ast.expr) -> list[str]:
    if not isinstance(deco, ast.Call):
        return []
    if deco.keywords:
        raise Problem("@cloaca.workflow_secrets takes secret names as positional strings",
                      deco.keywords[0].value)
    out: list[str] = []
    for arg in deco.args:
        value = literal(arg, "a secret name")
        with judged({}, arg):
            out.append(rb.secret(value))
    return out
