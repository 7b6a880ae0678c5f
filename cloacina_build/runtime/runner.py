"""Run a loaded workflow locally, the way the engine would.

Tasks run in dependency order, independent ones concurrently (threads; ``async def`` tasks
on one event loop).  Each task gets a context built from the run's input and the outputs of
its dependencies.  The manifest is honoured: retries (attempts, fixed, linear or exponential
backoff, delay, cap, jitter, condition), trigger rules (a task whose rule does not hold is
skipped; a skipped dependency counts as resolved), and declared params (checked and
defaulted before any task runs).  Triggers are not fired.
"""

from __future__ import annotations

import asyncio
import copy
import random
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .cloaca_compat import Context
from ..errors import UsageError

DEFAULT_RETRY = {"attempts": 0, "backoff": "exponential", "delay_ms": 1000,
                 "max_delay_ms": 30000, "condition": "all", "jitter": False}
TRANSIENT = (TimeoutError, ConnectionError, InterruptedError, BlockingIOError)
_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
_PY_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
             "list": (list,), "dict": (dict,)}


class ParamError(UsageError):
    code = "param"


@dataclass
class TaskOutcome:
    id: str
    status: str = "not_run"   # completed | skipped | failed | not_run
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    reason: str | None = None
    error: str | None = None
    traceback: str | None = None

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclass
class RunResult:
    workflow: str
    status: str
    context: dict[str, Any]
    tasks: dict[str, TaskOutcome]
    duration: float
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "status": self.status,
            "context": self.context,
            "tasks": {t: o.status for t, o in self.tasks.items()},
            "timings": {"total": round(self.duration, 6),
                        **{t: round(o.duration, 6) for t, o in self.tasks.items()
                           if o.duration is not None}},
            "attempts": {t: o.attempts for t, o in self.tasks.items() if o.attempts},
            "failures": {t: {"error": self.tasks[t].error,
                             "traceback": self.tasks[t].traceback} for t in self.failed},
            "skipped": {t: o.reason for t, o in self.tasks.items() if o.status == "skipped"},
        }


@dataclass(frozen=True)
class Event:
    kind: str      # started | completed | retry | skipped | failed | not_run
    task: str
    elapsed: float
    attempt: int = 0
    detail: str = ""


def apply_params(params: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """Check declared params against the input and fill defaults; raises ParamError."""
    context = copy.deepcopy(given)
    problems = []
    for param in params:
        name, kind = param["name"], param["type"]
        if name not in context:
            if param.get("required"):
                problems.append(f"required param '{name}' ({kind}) is missing")
                continue
            context[name] = copy.deepcopy(param.get("default"))
            continue
        value = context[name]
        ok = isinstance(value, _PY_TYPES[kind]) and not (
            kind in ("int", "float") and isinstance(value, bool))
        if not ok:
            problems.append(f"param '{name}' must be a {kind}, not {type(value).__name__} "
                            f"{value!r}")
    if problems:
        raise ParamError("; ".join(problems), hint="pass the params in --context as JSON, "
                         'e.g. --context \'{"region": "eu"}\'')
    return context


def retry_delay(retry: dict[str, Any], attempt: int, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    delay = retry["delay_ms"]
    if retry["backoff"] == "linear":
        delay *= attempt
    elif retry["backoff"] == "exponential":
        delay *= 2 ** (attempt - 1)
    if retry.get("jitter"):
        delay *= rng.uniform(0.75, 1.25)
    if retry.get("max_delay_ms") is not None:
        delay = min(delay, retry["max_delay_ms"])
    return delay / 1000.0


def should_retry(retry: dict[str, Any], exc: BaseException) -> bool:
    condition = retry["condition"]
    if condition == "never":
        return False
    if condition == "transient":
        return isinstance(exc, TRANSIENT) or bool(getattr(exc, "transient", False))
    return isinstance(exc, Exception)


def holds(rule: dict[str, Any] | None, context: dict[str, Any],
          statuses: dict[str, str]) -> bool:
    """Evaluate a trigger rule (the engine's JSON) against a context and task statuses."""
    if rule is None:
        return True
    kind = rule["type"]
    if kind == "Always":
        return True
    if kind in ("All", "Any", "None"):
        results = [holds(c, context, statuses) for c in rule.get("conditions", [])]
        return all(results) if kind == "All" else any(results) if kind == "Any" \
            else not any(results)
    if kind == "TaskSuccess":
        return statuses.get(rule["task_name"]) == "completed"
    if kind == "TaskFailed":
        return statuses.get(rule["task_name"]) == "failed"
    if kind == "TaskSkipped":
        return statuses.get(rule["task_name"]) == "skipped"
    if kind == "ContextValue":
        return _compare(rule["operator"], rule["key"], rule.get("value"), context)
    return False


def _compare(op: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    if op == "Exists":
        return key in context
    if op == "NotExists":
        return key not in context
    if key not in context:
        return False
    actual = context[key]
    try:
        if op == "Equals":
            return actual == expected
        if op == "NotEquals":
            return actual != expected
        if op == "GreaterThan":
            return actual > expected
        if op == "LessThan":
            return actual < expected
        if op == "Contains":
            return expected in actual
        if op == "NotContains":
            return expected not in actual
    except TypeError:
        return False
    return False


def user_traceback(exc: BaseException) -> str:
    """The task's traceback without this tool's frames."""
    tb = traceback.TracebackException.from_exception(exc)
    tb.stack = traceback.StackSummary.from_list(
        [f for f in tb.stack if not f.filename.startswith(_PACKAGE_DIR)])
    return "".join(tb.format())


class _Loop:
    """One event loop in a background thread, for async tasks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="cloacina-async")
        self.thread.start()

    def run(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def run_tasks(workflow: str, tasks: list[dict[str, Any]], resolve: Callable[[str], Callable],
              context: dict[str, Any] | None = None, *, params: list[dict] | None = None,
              on_event: Callable[[Event], None] | None = None, max_workers: int | None = None,
              sleep: Callable[[float], None] = time.sleep, seed: int | None = None
              ) -> RunResult:
    """Run ``tasks`` (manifest task records); ``resolve(task_id)`` gives the callable."""
    start = time.perf_counter()
    initial = apply_params(params or [], context or {})
    by_id = {t["id"]: t for t in tasks}
    functions = {t: resolve(t) for t in by_id}
    order = _topological(tasks)
    outcomes = {t: TaskOutcome(t) for t in order}
    outputs: dict[str, dict[str, Any]] = {}
    rng = random.Random(seed)
    emit = on_event or (lambda event: None)
    loop: _Loop | None = _Loop() if any(t.get("is_async") for t in tasks) else None

    def elapsed() -> float:
        return time.perf_counter() - start

    def statuses() -> dict[str, str]:
        return {t: o.status for t, o in outcomes.items()}

    def input_for(task: dict[str, Any]) -> dict[str, Any]:
        merged = copy.deepcopy(initial)
        for dep in sorted(task["dependencies"], key=order.index):
            merged.update(copy.deepcopy(outputs.get(dep, {})))
        return merged

    def execute(task_id: str, data: dict[str, Any]) -> dict[str, Any]:
        retry = {**DEFAULT_RETRY, **by_id[task_id].get("retry", {})}
        func = functions[task_id]
        outcome = outcomes[task_id]
        outcome.started = elapsed()
        emit(Event("started", task_id, outcome.started))
        while True:
            outcome.attempts += 1
            ctx = Context(copy.deepcopy(data))
            try:
                try:
                    result = func(ctx)
                    if asyncio.iscoroutine(result):
                        result = loop.run(_guarded(result)) if loop else \
                            asyncio.run(_guarded(result))
                    return _result_dict(result, ctx)
                except Exception:
                    raise
                except BaseException as exc:  # SystemExit, KeyboardInterrupt from task code
                    raise TaskAborted(exc) from exc
            except Exception as exc:  # the task's own failure
                retries_left = retry["attempts"] - (outcome.attempts - 1)
                if retries_left > 0 and should_retry(retry, exc):
                    wait_s = retry_delay(retry, outcome.attempts, rng)
                    emit(Event("retry", task_id, elapsed(), outcome.attempts,
                               f"{type(exc).__name__}: {exc}; retrying in "
                               f"{wait_s * 1000:.0f} ms"))
                    sleep(wait_s)
                    continue
                shown = exc.original if isinstance(exc, TaskAborted) else exc
                outcome.error = f"{type(shown).__name__}: {shown}"
                outcome.traceback = user_traceback(shown)
                raise

    pending = list(order)
    running: dict[Future, str] = {}
    failed = False
    workers = max_workers or min(32, max(1, len(tasks)))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloacina-task") as pool:
            while pending or running:
                progressed = False
                for task_id in list(pending):
                    task = by_id[task_id]
                    waits_on = set(task["dependencies"]) | _rule_tasks(task.get("trigger_rules"))
                    if any(d in pending or d in running.values() for d in waits_on):
                        continue
                    pending.remove(task_id)
                    progressed = True
                    bad = [d for d in task["dependencies"]
                           if outcomes[d].status in ("failed", "not_run")]
                    # after a failure only tasks with a trigger rule (compensation, such
                    # as task_failed(...)) still get a say; the rest are not run
                    if bad or (failed and not task.get("trigger_rules")):
                        outcome = outcomes[task_id]
                        outcome.reason = (f"dependency '{bad[0]}' {outcomes[bad[0]].status}"
                                          if bad else "the run failed")
                        emit(Event("not_run", task_id, elapsed(), detail=outcome.reason))
                        continue
                    data = input_for(task)
                    if not holds(task.get("trigger_rules"), data, statuses()):
                        outcome = outcomes[task_id]
                        outcome.status = "skipped"
                        outcome.reason = "its trigger rule does not hold"
                        outputs[task_id] = data
                        emit(Event("skipped", task_id, elapsed(), detail=outcome.reason))
                        continue
                    running[pool.submit(execute, task_id, data)] = task_id
                if not running:
                    if pending and not progressed:  # waits that can never end
                        for task_id in pending:
                            outcomes[task_id].reason = "waits on tasks that never finish"
                            emit(Event("not_run", task_id, elapsed(),
                                       detail=outcomes[task_id].reason))
                        pending.clear()
                    continue
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    task_id = running.pop(future)
                    outcome = outcomes[task_id]
                    outcome.finished = elapsed()
                    try:
                        result = future.result()
                    except Exception:
                        outcome.status = "failed"
                        failed = True
                        emit(Event("failed", task_id, outcome.finished, outcome.attempts,
                                   outcome.error or ""))
                        continue
                    outputs[task_id] = result
                    outcome.status = "completed"
                    emit(Event("completed", task_id, outcome.finished, outcome.attempts))
    finally:
        if loop is not None:
            loop.close()
    final: dict[str, Any] = copy.deepcopy(initial)
    for task_id in order:
        if outcomes[task_id].status == "completed":
            final.update(outputs[task_id])
    failures = [t for t in order if outcomes[t].status == "failed"]
    return RunResult(workflow, "failed" if failures else "completed", final, outcomes,
                     elapsed(), failures)


class TaskAborted(Exception):
    """A task raised SystemExit or KeyboardInterrupt: a failure of that task, not of the run."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.original = exc


async def _guarded(coro):
    try:
        return await coro
    except Exception:
        raise
    except BaseException as exc:  # keep the event loop thread alive
        raise TaskAborted(exc) from exc


def _result_dict(result: Any, ctx: Context) -> dict[str, Any]:
    if result is None:
        return ctx.to_dict()
    if isinstance(result, Context):
        return result.to_dict()
    if isinstance(result, dict):
        return copy.deepcopy(result)
    if hasattr(result, "to_dict"):
        return dict(result.to_dict())
    raise TypeError(f"a task must return its context (or None), not {type(result).__name__}")


def _rule_tasks(rule: dict | None) -> set[str]:
    from ..project.trigger_rules import rule_task_names

    return set(rule_task_names(rule))


def _topological(tasks: list[dict[str, Any]]) -> list[str]:
    from ..project.graph import execution_levels

    order = [t for level in execution_levels(tasks) for t in level]
    return order + sorted(t["id"] for t in tasks if t["id"] not in order)
