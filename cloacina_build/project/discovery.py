"""Static discovery of a workflow's tasks, triggers, params and secrets.

The source is parsed, never imported: decorators are recognised by how they are written
(``@cloaca.task(...)``, ``from cloaca import task as t`` then ``@t(...)``, ...) and their
arguments must be literals, judged by the rule book (:mod:`.decorators`).  The result is
the typed model (:class:`~cloacina_build.model.Task`, ``Trigger``, ``Param``); every problem
becomes a finding with ``file:line``, and the caller decides whether to raise.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .. import rulebook as rb
from ..findings import Finding, error
from ..gcpause import gc_paused
from ..model import Param, Task, Trigger
from .decorators import (
    DECORATORS,
    FunctionRef,
    Problem,
    TaskDraft,
    read_params,
    read_secrets,
    read_task,
    read_trigger,
)
from .sources import (
    Module,
    RecordingTree,
    SourceTooLarge,
    SourceTree,
    statements,
    walk_modules,
)
from .trigger_rules import RuleError

_PLACEMENT = {
    "main-guard": "sits behind 'if __name__ == \"__main__\"', so it never registers when "
                  "the engine imports the module",
    "class": "is defined inside a class; define it at module level",
    "function": "is defined inside a function; define it at module level",
}
_BLOCKS = (ast.Try, ast.With, ast.AsyncWith, ast.For, ast.While, ast.AsyncFor)


@dataclass
class Discovery:
    tasks: list[Task] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    # What discovery saw of the source tree (None for discoveries not made from one).
    observed: RecordingTree | None = field(default=None, repr=False, compare=False)


class _Aliases:
    """Which local names mean the ``cloaca`` module or one of its attributes."""

    def __init__(self, parsed: ast.Module) -> None:
        self.modules: set[str] = set()
        self.names: dict[str, str] = {}
        for node in statements(parsed):
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


def _is_main_guard(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name)
            and t.left.id == "__name__" and len(t.comparators) == 1
            and isinstance(t.comparators[0], ast.Constant)
            and t.comparators[0].value == "__main__")


def discover(tree: SourceTree, entry_module: str, workflow_name: str) -> Discovery:
    with gc_paused():  # thousands of syntax trees stay alive until the end (see gcpause)
        return _discover(tree, entry_module, workflow_name)


def _discover(tree: SourceTree, entry_module: str, workflow_name: str) -> Discovery:
    recording = RecordingTree(tree)
    result = Discovery(observed=recording)

    def scan(module: Module, parsed: ast.AST) -> _ModuleScan:
        found = _ModuleScan(recording.display(module.relpath), module, workflow_name)
        try:
            found.run(parsed)
        except RecursionError:
            found.result.findings.append(error("source-too-complex", "the source nests too "
                                               "deeply to be read safely", found.where))
        return found

    pending: list[tuple[TaskDraft, dict[str, str]]] = []
    for module, found in walk_modules(recording, entry_module,
                                      lambda m: _parse(recording, m, result), scan):
        result.modules.append(module.name)
        if found is not None:  # merged in module order, whatever order they were read in
            result.findings += found.result.findings
            result.triggers += found.result.triggers
            result.params += found.result.params
            result.secrets += found.result.secrets
            pending += found.pending
    _finish(result, pending)
    return result


def _parse(tree: SourceTree, module: Module, result: Discovery) -> ast.Module | None:
    where = tree.display(module.relpath)
    try:
        data = tree.read(module.relpath)
    except SourceTooLarge:
        result.findings.append(error("source-too-large", "source file is larger than 4 MiB",
                                     where))
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


class _ModuleScan:
    """The decorated functions of one module, with where each one sits; what they declare
    goes to ``result`` (and ``pending``, for tasks) until the modules are merged."""

    def __init__(self, where: str, module: Module, workflow: str) -> None:
        self.where, self.module, self.workflow = where, module, workflow
        self.result = Discovery()
        self.local_tasks: dict[str, str] = {}  # function name -> task id
        self.aliases: _Aliases | None = None
        self.pending: list[tuple[TaskDraft, dict[str, str]]] = []

    def run(self, parsed: ast.AST) -> None:
        assert isinstance(parsed, ast.Module)
        self.aliases = _Aliases(parsed)
        if not self.aliases.modules and not self.aliases.names:
            return
        self._visit(parsed.body, "module")

    def _visit(self, body: list[ast.stmt], context: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._function(node, context)
                self._visit(node.body, "function")
            elif isinstance(node, ast.ClassDef):
                self._visit(node.body, "class")
            elif isinstance(node, ast.If):
                inner = "main-guard" if context == "module" and _is_main_guard(node) \
                    else context
                self._visit(node.body, inner)
                self._visit(node.orelse, context)
            elif isinstance(node, _BLOCKS):
                for attr in ("body", "orelse", "finalbody"):
                    self._visit(getattr(node, attr, []), context)
                for handler in getattr(node, "handlers", []):
                    self._visit(handler.body, context)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, context: str) -> None:
        assert self.aliases is not None
        kinds = [(self.aliases.resolve(d.func if isinstance(d, ast.Call) else d), d)
                 for d in node.decorator_list]
        kinds = [(k, d) for k, d in kinds if k in DECORATORS]
        if not kinds:
            return
        if context != "module":
            self.result.findings.append(error(
                "task-placement", f"@cloaca.{kinds[0][0]} on '{node.name}' "
                f"{_PLACEMENT[context]}", f"{self.where}:{node.lineno}"))
            return
        for kind, deco in kinds:
            try:
                self._declare(str(kind), node, deco)
            except Problem as p:
                code = p.code or f"{str(kind).replace('_', '-')}-argument"
                self._finding(code, str(p), p.node, node)
            except RuleError as p:
                self._finding("task-trigger-rules", str(p), p.node, node)

    def _finding(self, code: str, message: str, at: ast.AST, node: ast.AST) -> None:
        line = getattr(at, "lineno", None) or getattr(node, "lineno", 0)
        self.result.findings.append(error(code, message, f"{self.where}:{line}"))

    def _declare(self, kind: str, node: ast.FunctionDef | ast.AsyncFunctionDef,
                 deco: ast.expr) -> None:
        module, rel, result = self.module.name, self.module.relpath, self.result
        if kind == "task":
            assert self.aliases is not None
            draft = read_task(node, deco, module, rel, self.where, self.aliases.resolve)
            self.local_tasks[node.name] = draft.task.id
            self.pending.append((draft, self.local_tasks))
        elif kind == "trigger":
            result.triggers.append(read_trigger(node, deco, module, rel, self.workflow))
        elif kind == "workflow_params":
            result.params.extend(read_params(deco, rel))
        else:
            result.secrets.extend(read_secrets(deco))


def _finish(result: Discovery, pending: list[tuple[TaskDraft, dict[str, str]]]) -> None:
    """Resolve dependencies named by function, drop repeated secrets, refuse repeated
    params, then apply the workflow-wide bounds."""
    for draft, local_tasks in pending:
        literal = [dep for dep in draft.deps if isinstance(dep, str)]
        if len(literal) == len(draft.deps):  # judged already: only dedupe
            resolved = tuple(dict.fromkeys(literal))
        else:
            resolved = _resolve(result, draft, local_tasks)
        t = draft.task
        result.tasks.append(Task(t.id, t.function, resolved, t.retry, t.trigger_rules,
                                 t.is_async, t.doc, t.source, t.fingerprint))
    result.secrets = list(dict.fromkeys(result.secrets))
    names: set[str] = set()
    for param in result.params:
        if param.name in names:
            result.findings.append(error("workflow-params-argument", f"param '{param.name}' "
                                         "is declared twice", _where(result, param)))
        names.add(param.name)
    for what, items, bound, code in (
            ("triggers", result.triggers, rb.MAX_TRIGGERS, "trigger-argument"),
            ("params", result.params, rb.MAX_PARAMS, "workflow-params-argument"),
            ("secrets", result.secrets, rb.MAX_SECRETS, "workflow-secrets-argument")):
        if len(items) > bound:
            result.findings.append(error(code, f"a workflow may declare at most {bound} "
                                         f"{what}, not {len(items)}"))


def _resolve(result: Discovery, draft: TaskDraft, local_tasks: dict[str, str]
             ) -> tuple[str, ...]:
    """Dependencies with task functions named by their task ids, judged again."""
    deps: list[str] = []
    for dep in draft.deps:
        if isinstance(dep, FunctionRef):
            if dep.name not in local_tasks:
                result.findings.append(error(
                    "task-dependencies", f"dependency '{dep.name}' of task '{draft.task.id}' "
                    "is not a task function of this module; name the task id as a string",
                    f"{draft.where}:{dep.line}"))
                continue
            dep = local_tasks[dep.name]
        deps.append(dep)
    try:
        return rb.dependencies(deps)
    except rb.RuleViolation as v:
        result.findings.append(error(v.code, v.message,
                                     f"{draft.where}:{draft.task.source.line}"))
        return ()


def _where(result: Discovery, param: Param) -> str:
    tree = result.observed
    file = tree.display(param.source.file) if tree is not None else param.source.file
    return f"{file}:{param.source.line}"
