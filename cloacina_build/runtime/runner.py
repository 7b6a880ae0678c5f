"""Run a loaded workflow locally, the way the engine would.

Tasks run in dependency order, independent ones concurrently (threads; ``async def`` tasks
on one event loop).  Each task gets a context built from the run's input and the outputs of
its dependencies.  The manifest is honoured: retries (attempts, fixed, linear or exponential
backoff, delay, cap, jitter, condition), trigger rules (a task whose rule does not hold is
skipped; a skipped dependency counts as resolved), and declared params (checked and
defaulted before any task runs).  Triggers are not fired.

Tasks are the typed :class:`~cloacina_build.model.Task`.  Scheduling is a ready queue
(:mod:`.schedule`) fed by a completion queue, so a run costs O(tasks + edges) bookkeeping
whatever the shape of the graph.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import queue
import random
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import Param, RunStatus, Task, TaskStatus
from .cloaca_compat import Context
from .params import ParamError, apply_params
from .retries import (
    DEFAULT_RETRY,
    TRANSIENT,
    effective_retry,
    retry_delay,
    should_retry,
)
from .rules import holds
from .schedule import Schedule

__all__ = ["DEFAULT_RETRY", "TRANSIENT", "Event", "ParamError", "RunResult", "TaskAborted",
           "TaskOutcome", "apply_params", "holds", "retry_delay", "run_tasks",
           "should_retry", "user_traceback"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
_UNRUNNABLE = (TaskStatus.FAILED, TaskStatus.NOT_RUN)


@dataclass
class TaskOutcome:
    id: str
    status: TaskStatus = TaskStatus.NOT_RUN
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
    status: RunStatus
    context: dict[str, Any]
    tasks: dict[str, TaskOutcome]
    duration: float
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.status == RunStatus.COMPLETED,
            "workflow": self.workflow,
            "status": str(self.status),
            "context": self.context,
            "tasks": {t: str(o.status) for t, o in self.tasks.items()},
            "timings": {"total": round(self.duration, 6),
                        **{t: round(o.duration, 6) for t, o in self.tasks.items()
                           if o.duration is not None}},
            "attempts": {t: o.attempts for t, o in self.tasks.items() if o.attempts},
            "failures": {t: {"error": self.tasks[t].error,
                             "traceback": self.tasks[t].traceback} for t in self.failed},
            "skipped": {t: o.reason for t, o in self.tasks.items()
                        if o.status == TaskStatus.SKIPPED},
        }


@dataclass(frozen=True)
class Event:
    kind: str      # started | completed | retry | skipped | failed | not_run
    task: str
    elapsed: float
    attempt: int = 0
    detail: str = ""


def user_traceback(exc: BaseException) -> str:
    """The task's traceback without this tool's frames."""
    tb = traceback.TracebackException.from_exception(exc)
    tb.stack = traceback.StackSummary.from_list(
        [f for f in tb.stack if not f.filename.startswith(_PACKAGE_DIR)])
    return "".join(tb.format())


class TaskAborted(Exception):
    """A task raised SystemExit or KeyboardInterrupt: a failure of that task, not of the run."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.original = exc


class _Loop:
    """One event loop in a background thread, for async tasks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="cloacina-async")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def run_tasks(workflow: str, tasks: Sequence[Task], resolve: Callable[[str], Callable],
              context: dict[str, Any] | None = None, *, params: Sequence[Param] | None = None,
              on_event: Callable[[Event], None] | None = None, max_workers: int | None = None,
              sleep: Callable[[float], None] = time.sleep, seed: int | None = None
              ) -> RunResult:
    """Run ``tasks``; ``resolve(task_id)`` gives the callable.  Raises :class:`ParamError`
    (before any task runs) when the input does not satisfy the declared ``params``."""
    initial = apply_params(params or (), context or {})
    run = _Run(workflow, tasks, resolve, initial, on_event=on_event, sleep=sleep,
               rng=random.Random(seed))
    workers = max_workers or min(32, max(1, len(run.schedule.by_id)))
    run.execute(workers)
    return run.result()


class _Run:
    """The state of one run: the schedule, the outcomes and outputs, the event stream."""

    def __init__(self, workflow: str, tasks: Sequence[Task],
                 resolve: Callable[[str], Callable], initial: dict[str, Any], *,
                 on_event: Callable[[Event], None] | None, sleep: Callable[[float], None],
                 rng: random.Random) -> None:
        self.start = time.perf_counter()
        self.workflow = workflow
        self.initial = initial
        self.schedule = Schedule(tasks)
        self.functions = {tid: resolve(tid) for tid in self.schedule.by_id}
        self.outcomes = {tid: TaskOutcome(tid) for tid in self.schedule.order}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.emit = on_event or (lambda event: None)
        self.sleep = sleep
        self.rng = rng
        self.failed = False
        self.in_flight = 0
        self.done: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        self.loop: _Loop | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def status_of(self, task_id: str) -> TaskStatus | None:
        outcome = self.outcomes.get(task_id)
        return outcome.status if outcome is not None else None

    # ------------------------------------------------------------ the driver
    def execute(self, workers: int) -> None:
        if any(t.is_async for t in self.schedule.by_id.values()):
            self.loop = _Loop()
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloacina-task")
        try:
            while True:
                while (task_id := self.schedule.pop_ready()) is not None:
                    self.consider(task_id, pool)
                if not self.in_flight:
                    break
                for task_id, future in self.completions():
                    self.finish(task_id, future)
            for task_id in self.schedule.stuck():
                self.not_run(task_id, "waits on tasks that never finish")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if self.loop is not None:
                self.loop.close()

    def completions(self) -> list[tuple[str, Future]]:
        """Every finished task so far (at least one): all are recorded before the tasks
        they release are considered, so a failure among them is seen by those tasks."""
        batch = [self.done.get()]
        while True:
            try:
                batch.append(self.done.get_nowait())
            except queue.Empty:
                break
        self.in_flight -= len(batch)
        return batch

    def consider(self, task_id: str, pool: ThreadPoolExecutor) -> None:
        """A ready task: not run, skipped, or submitted."""
        task = self.schedule.by_id[task_id]
        reason = self.blocked(task)
        if reason is not None:
            self.not_run(task_id, reason)
            return
        data = self.input_for(task)
        if not holds(task.trigger_rules, data, self.status_of):
            outcome = self.outcomes[task_id]
            outcome.status = TaskStatus.SKIPPED
            outcome.reason = "its trigger rule does not hold"
            self.outputs[task_id] = data
            self.emit(Event("skipped", task_id, self.elapsed(), detail=outcome.reason))
            self.schedule.resolved(task_id)
            return
        future = pool.submit(self.run_task, task_id, data)
        self.in_flight += 1
        future.add_done_callback(functools.partial(self._settled, task_id))

    def _settled(self, task_id: str, future: Future) -> None:
        """Called by the pool when a task's future is done (in the worker's thread)."""
        self.done.put((task_id, future))

    def blocked(self, task: Task) -> str | None:
        """Why ``task`` is not run, or None.  After a failure only tasks with a trigger
        rule (compensation, such as task_failed(...)) still get a say."""
        for dep in task.dependencies:
            status = self.status_of(dep)
            if status is None or status in _UNRUNNABLE:
                return f"dependency '{dep}' {status or TaskStatus.NOT_RUN}"
        if self.failed and task.trigger_rules is None:
            return "the run failed"
        return None

    def not_run(self, task_id: str, reason: str) -> None:
        self.outcomes[task_id].reason = reason
        self.emit(Event("not_run", task_id, self.elapsed(), detail=reason))
        self.schedule.resolved(task_id)

    def finish(self, task_id: str, future: Future) -> None:
        outcome = self.outcomes[task_id]
        outcome.finished = self.elapsed()
        try:
            self.outputs[task_id] = future.result()
        except Exception:
            outcome.status = TaskStatus.FAILED
            self.failed = True
            self.emit(Event("failed", task_id, outcome.finished, outcome.attempts,
                            outcome.error or ""))
        else:
            outcome.status = TaskStatus.COMPLETED
            self.emit(Event("completed", task_id, outcome.finished, outcome.attempts))
        self.schedule.resolved(task_id)

    def input_for(self, task: Task) -> dict[str, Any]:
        merged = copy.deepcopy(self.initial)
        for dep in self.schedule.dependency_order(task):
            merged.update(copy.deepcopy(self.outputs.get(dep, {})))
        return merged

    # ------------------------------------------------------------ in a worker thread
    def run_task(self, task_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Call the task, retrying as its policy says; raises the last failure."""
        retry = effective_retry(self.schedule.by_id[task_id].retry)
        outcome = self.outcomes[task_id]
        outcome.started = self.elapsed()
        self.emit(Event("started", task_id, outcome.started))
        while True:
            outcome.attempts += 1
            try:
                return self.attempt(self.functions[task_id], data)
            except Exception as exc:  # the task's own failure
                retries_left = (retry.attempts or 0) - (outcome.attempts - 1)
                if retries_left > 0 and should_retry(retry, exc):
                    wait_s = retry_delay(retry, outcome.attempts, self.rng)
                    self.emit(Event("retry", task_id, self.elapsed(), outcome.attempts,
                                    f"{type(exc).__name__}: {exc}; retrying in "
                                    f"{wait_s * 1000:.0f} ms"))
                    self.sleep(wait_s)
                    continue
                shown = exc.original if isinstance(exc, TaskAborted) else exc
                outcome.error = f"{type(shown).__name__}: {shown}"
                outcome.traceback = user_traceback(shown)
                raise

    def attempt(self, func: Callable, data: dict[str, Any]) -> dict[str, Any]:
        ctx = Context(copy.deepcopy(data))
        try:
            result = func(ctx)
            if asyncio.iscoroutine(result):
                result = self.loop.run(_guarded(result)) if self.loop else \
                    asyncio.run(_guarded(result))
            return _result_dict(result, ctx)
        except Exception:
            raise
        except BaseException as exc:  # SystemExit, KeyboardInterrupt from task code
            raise TaskAborted(exc) from exc

    # ------------------------------------------------------------ the result
    def result(self) -> RunResult:
        final: dict[str, Any] = copy.deepcopy(self.initial)
        order = self.schedule.order
        for task_id in order:
            if self.outcomes[task_id].status == TaskStatus.COMPLETED:
                final.update(self.outputs[task_id])
        failures = [t for t in order if self.outcomes[t].status == TaskStatus.FAILED]
        status = RunStatus.FAILED if failures else RunStatus.COMPLETED
        return RunResult(self.workflow, status, final, self.outcomes, self.elapsed(),
                         failures)


async def _guarded(coro: Coroutine[Any, Any, Any]) -> Any:
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
