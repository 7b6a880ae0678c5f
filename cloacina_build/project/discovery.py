"""Static discovery of a workflow's tasks, triggers, params and secrets.

The source is parsed, never imported: decorators are recognised by how they are written
(``@cloaca.task(...)``, ``from cloaca import task as t`` then ``@t(...)``, ...) and their
arguments must be literals.  Every problem becomes a finding with ``file:line``; the caller
decides whether to raise.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ..errors import did_you_mean
from ..findings import Finding, error
from .fingerprint import fingerprint_function
from .trigger_rules import RuleError, is_json_data, read_rule
from .sources import Module, SourceTooLarge, SourceTree, walk_modules

TASK_ARGS = ("id", "dependencies", "retry_attempts", "retry_backoff", "retry_delay_ms",
             "retry_max_delay_ms", "retry_condition", "retry_jitter", "trigger_rules")
TASK_ARG_SYNONYMS = {
    "retries": "retry_attempts", "max_retries": "retry_attempts", "attempts": "retry_attempts",
    "backoff": "retry_backoff", "delay_ms": "retry_delay_ms", "retry_delay": "retry_delay_ms",
    "depends_on": "dependencies", "deps": "dependencies", "after": "dependencies",
    "name": "id", "task_id": "id", "trigger_rule": "trigger_rules", "rules": "trigger_rules",
}
BACKOFFS = ("fixed", "linear", "exponential")
RETRY_CONDITIONS = ("never", "transient", "all")
TRIGGER_ARGS = ("on", "cron", "poll_interval", "name", "allow_concurrent", "timezone")
PARAM_TYPES = ("str", "int", "float", "bool", "list", "dict")
_INTERVAL = re.compile(r"^[1-9][0-9]*(ms|s|m|h|d)$")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
DECORATORS = ("task", "trigger", "workflow_params", "workflow_secrets")


@dataclass
class Discovery:
    tasks: list[dict] = field(default_factory=list)
    triggers: list[dict] = field(default_factory=list)
    params: list[dict] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)


class _Problem(Exception):
    def __init__(self, message: str, node: ast.AST) -> None:
        super().__init__(message)
        self.node = node


class _Aliases:
    """Which local names mean the ``cloaca`` module or one of its attributes."""

    def __init__(self, parsed: ast.Module) -> None:
        self.modules: set[str] = set()
        self.names: dict[str, str] = {}
        for node in ast.walk(parsed):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "cloaca":
                        self.modules.add(a.asname or "cloaca")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 \
                    and node.module == "cloaca":
                for a in node.names:
                    self.names[a.asname or a.name] = a.name

    def resolve(self, expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) \
                and expr.value.id in self.modules:
            return expr.attr
        if isinstance(expr, ast.Name) and expr.id in self.names:
            return self.names[expr.id]
        return None


def _literal(node: ast.AST, what: str):
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _Problem(f"{what} must be a literal value, not '{_short(ast.unparse(node))}' "
                       "(decorator arguments are read without running your code)",
                       node) from None
    if not is_json_data(value):
        raise _Problem(f"{what} must be JSON-like data (strings, numbers, booleans, None, "
                       f"lists and dicts with string keys), not {_short(repr(value))}", node)
    return value


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _is_main_guard(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name)
            and t.left.id == "__name__" and len(t.comparators) == 1
            and isinstance(t.comparators[0], ast.Constant)
            and t.comparators[0].value == "__main__")


def discover(tree: SourceTree, entry_module: str, workflow_name: str) -> Discovery:
    result = Discovery()

    def parse(module: Module):
        where = tree.display(module.relpath)
        try:
            data = tree.read(module.relpath)
        except SourceTooLarge:
            result.findings.append(error("source-too-large", "source file is larger than "
                                         "4 MiB", where))
            return None
        if data is None:
            return None
        try:
            return ast.parse(data, filename=where)
        except SyntaxError as exc:
            result.findings.append(error("source-syntax", f"syntax error: {exc.msg}",
                                         f"{where}:{exc.lineno or 0}"))
        except (ValueError, RecursionError, MemoryError) as exc:
            result.findings.append(error("source-syntax", f"cannot parse: {exc}", where))
        return None

    pending_deps: list[tuple[dict, list, dict[str, str], str]] = []
    for module, parsed in walk_modules(tree, entry_module, parse):
        result.modules.append(module.name)
        if parsed is None:
            continue
        try:
            _scan_module(tree, module, parsed, workflow_name, result, pending_deps)
        except RecursionError:
            result.findings.append(error("source-too-complex", "the source nests too deeply "
                                         "to be read safely", tree.display(module.relpath)))
    _resolve_function_deps(result, pending_deps)
    return result


def _scan_module(tree, module, parsed, workflow_name, result, pending_deps):
    aliases = _Aliases(parsed)
    if not aliases.modules and not aliases.names:
        return
    where = tree.display(module.relpath)
    local_tasks: dict[str, str] = {}

    def visit(body, context: str):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                _function(node, context)
                visit(node.body, "function")
            elif isinstance(node, ast.ClassDef):
                visit(node.body, "class")
            elif isinstance(node, ast.If):
                inner = "main-guard" if context == "module" and _is_main_guard(node) \
                    else context
                visit(node.body, inner)
                visit(node.orelse, context)
            elif isinstance(node, (ast.Try, ast.With, ast.AsyncWith, ast.For, ast.While,
                                   ast.AsyncFor)):
                for attr in ("body", "orelse", "finalbody"):
                    visit(getattr(node, attr, []), context)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, context)

    def _function(node, context: str):
        kinds = [(aliases.resolve(d.func if isinstance(d, ast.Call) else d), d)
                 for d in node.decorator_list]
        kinds = [(k, d) for k, d in kinds if k in DECORATORS]
        if not kinds:
            return
        loc = f"{where}:{node.lineno}"
        if context != "module":
            reason = {
                "main-guard": "sits behind 'if __name__ == \"__main__\"', so it never "
                              "registers when the engine imports the module",
                "class": "is defined inside a class; define it at module level",
                "function": "is defined inside a function; define it at module level",
            }[context]
            result.findings.append(error("task-placement", f"@cloaca.{kinds[0][0]} on "
                                         f"'{node.name}' {reason}", loc))
            return
        for kind, deco in kinds:
            try:
                handler = {"task": _task, "trigger": _trigger,
                           "workflow_params": _params, "workflow_secrets": _secrets}[kind]
                handler(node, deco, f"{where}:{deco.lineno}")
            except _Problem as p:
                line = getattr(p.node, "lineno", node.lineno)
                result.findings.append(error(f"{kind.replace('_', '-')}-argument", str(p),
                                             f"{where}:{line}"))
            except RuleError as p:
                line = getattr(p.node, "lineno", node.lineno)
                result.findings.append(error("task-trigger-rules", str(p), f"{where}:{line}"))

    def _kwargs(deco, kind: str, allowed) -> dict[str, ast.AST]:
        if not isinstance(deco, ast.Call):
            return {}
        if deco.args:
            raise _Problem(f"@cloaca.{kind} takes keyword arguments only", deco.args[0])
        out = {}
        for kw in deco.keywords:
            if kw.arg is None:
                raise _Problem(f"@cloaca.{kind} cannot take **kwargs: write the arguments "
                               "out", kw.value)
            if allowed is not None and kw.arg not in allowed:
                raise _Problem(f"@cloaca.{kind} has no argument '{kw.arg}'"
                               f"{did_you_mean(kw.arg, allowed, TASK_ARG_SYNONYMS)}",
                               kw.value)
            out[kw.arg] = kw.value
        return out

    def _task(node, deco, loc):
        kw = _kwargs(deco, "task", TASK_ARGS)
        task_id = _literal(kw["id"], "id") if "id" in kw else node.name
        if not isinstance(task_id, str) or not _ID.match(task_id):
            raise _Problem(f"task id {task_id!r} must be a string of letters, digits, '_', "
                           "'-' or '.'", kw.get("id", deco))
        deps: list = []
        dep_nodes = kw.get("dependencies")
        if dep_nodes is not None:
            if not isinstance(dep_nodes, (ast.List, ast.Tuple)):
                raise _Problem("dependencies must be a list of task ids", dep_nodes)
            for item in dep_nodes.elts:
                if isinstance(item, ast.Name):
                    deps.append(("function", item.id, item.lineno))
                else:
                    value = _literal(item, "a dependency")
                    if not isinstance(value, str):
                        raise _Problem(f"dependency {value!r} must be a task id (a string)",
                                       item)
                    deps.append(value)
        retry = _retry(kw)
        rule = read_rule(kw["trigger_rules"], aliases.resolve) \
            if "trigger_rules" in kw else None
        doc = ast.get_docstring(node)
        task = {
            "id": task_id,
            "function": f"{module.name}:{node.name}",
            "dependencies": [],
            "retry": retry,
            "trigger_rules": rule,
            "is_async": isinstance(node, ast.AsyncFunctionDef),
            "doc": doc.strip().splitlines()[0] if doc and doc.strip() else None,
            "source": {"file": module.relpath, "line": deco.lineno},
            "fingerprint": fingerprint_function(node),
        }
        result.tasks.append(task)
        local_tasks[node.name] = task_id
        pending_deps.append((task, deps, local_tasks, where))

    def _retry(kw) -> dict:
        retry: dict = {}
        checks = {
            "retry_attempts": ("attempts", lambda v: isinstance(v, int) and not
                               isinstance(v, bool) and 0 <= v <= 1000,
                               "an integer from 0 to 1000"),
            "retry_delay_ms": ("delay_ms", lambda v: isinstance(v, int) and not
                               isinstance(v, bool) and v >= 0, "a non-negative integer"),
            "retry_max_delay_ms": ("max_delay_ms", lambda v: isinstance(v, int) and not
                                   isinstance(v, bool) and v >= 0, "a non-negative integer"),
            "retry_backoff": ("backoff", lambda v: isinstance(v, str) and v.lower() in
                              BACKOFFS, "one of " + ", ".join(BACKOFFS)),
            "retry_condition": ("condition", lambda v: isinstance(v, str) and v.lower() in
                                RETRY_CONDITIONS, "one of " + ", ".join(RETRY_CONDITIONS)),
            "retry_jitter": ("jitter", lambda v: isinstance(v, bool), "True or False"),
        }
        for arg, (key, ok, expected) in checks.items():
            if arg in kw:
                value = _literal(kw[arg], arg)
                if not ok(value):
                    raise _Problem(f"{arg} must be {expected}, not {value!r}", kw[arg])
                retry[key] = value.lower() if isinstance(value, str) else value
        if "delay_ms" in retry and "max_delay_ms" in retry \
                and retry["max_delay_ms"] < retry["delay_ms"]:
            raise _Problem("retry_max_delay_ms is smaller than retry_delay_ms",
                           kw["retry_max_delay_ms"])
        return retry

    def _trigger(node, deco, loc):
        kw = _kwargs(deco, "trigger", None)
        values = {k: _literal(v, k) for k, v in kw.items()}
        unknown = [k for k in values if k not in TRIGGER_ARGS]
        if unknown:
            raise _Problem(f"@cloaca.trigger has no argument '{unknown[0]}'"
                           f"{did_you_mean(unknown[0], TRIGGER_ARGS)}", kw[unknown[0]])
        has_cron, has_poll = "cron" in values, "poll_interval" in values
        if has_cron == has_poll:
            raise _Problem("@cloaca.trigger needs exactly one of cron=... or "
                           "poll_interval=...", deco)
        if has_cron:
            cron = values["cron"]
            if not isinstance(cron, str) or not 5 <= len(cron.split()) <= 7:
                raise _Problem(f"cron {cron!r} must be a cron expression of 5 to 7 fields",
                               kw["cron"])
        if has_poll and (not isinstance(values["poll_interval"], str)
                         or not _INTERVAL.match(values["poll_interval"])):
            raise _Problem(f"poll_interval {values['poll_interval']!r} must look like "
                           "'500ms', '3s', '5m' or '1h'", kw["poll_interval"])
        target = values.get("on", workflow_name)
        if not isinstance(target, str):
            raise _Problem("on= must name a workflow (a string)", kw["on"])
        name = values.get("name", node.name)
        if not isinstance(name, str):
            raise _Problem("name= must be a string", kw["name"])
        trig = {"name": name, "function": f"{module.name}:{node.name}", "on": target,
                "kind": "cron" if has_cron else "poll",
                "schedule": values["cron"] if has_cron else values["poll_interval"],
                "options": {k: v for k, v in values.items()
                            if k not in ("on", "cron", "poll_interval", "name")},
                "source": {"file": module.relpath, "line": node.lineno}}
        result.triggers.append(trig)

    def _params(node, deco, loc):
        kw = _kwargs(deco, "workflow_params", None)
        for name, value in kw.items():
            default_node = None
            type_node = value
            if isinstance(value, ast.Tuple):
                if len(value.elts) != 2:
                    raise _Problem(f"param '{name}' must be a type or a (type, default) "
                                   "pair", value)
                type_node, default_node = value.elts
            type_name = type_node.id if isinstance(type_node, ast.Name) else (
                type_node.value if isinstance(type_node, ast.Constant) and
                isinstance(type_node.value, str) else None)
            if type_name not in PARAM_TYPES:
                raise _Problem(f"param '{name}' has type '{_short(ast.unparse(type_node))}';"
                               f" use one of {', '.join(PARAM_TYPES)}", type_node)
            param = {"name": name, "type": type_name, "required": default_node is None,
                     "source": {"file": module.relpath, "line": value.lineno}}
            if default_node is not None:
                default = _literal(default_node, f"the default of param '{name}'")
                if not _type_ok(type_name, default):
                    raise _Problem(f"the default of param '{name}' is {default!r}, not a "
                                   f"{type_name}", default_node)
                param["default"] = default
            if any(p["name"] == name for p in result.params):
                raise _Problem(f"param '{name}' is declared twice", value)
            result.params.append(param)

    def _secrets(node, deco, loc):
        if not isinstance(deco, ast.Call):
            return
        if deco.keywords:
            raise _Problem("@cloaca.workflow_secrets takes secret names as positional "
                           "strings", deco.keywords[0].value)
        for arg in deco.args:
            value = _literal(arg, "a secret name")
            if not isinstance(value, str) or not value:
                raise _Problem(f"secret name {value!r} must be a non-empty string", arg)
            if value not in result.secrets:
                result.secrets.append(value)

    visit(parsed.body, "module")


def _type_ok(type_name: str, value) -> bool:
    if type_name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    expected = {"str": str, "bool": bool, "list": (list, tuple), "dict": dict}[type_name]
    return isinstance(value, expected)


def _resolve_function_deps(result: Discovery, pending) -> None:
    for task, deps, local_tasks, where in pending:
        for dep in deps:
            if isinstance(dep, tuple):
                _, fname, line = dep
                if fname not in local_tasks:
                    result.findings.append(error(
                        "task-dependencies", f"dependency '{fname}' of task '{task['id']}' "
                        "is not a task function of this module; name the task id as a string",
                        f"{where}:{line}"))
                    continue
                dep = local_tasks[fname]
            if dep not in task["dependencies"]:
                task["dependencies"].append(dep)
