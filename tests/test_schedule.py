"""The runner on the typed model, in-process: the ready queue's order and concurrency,
skipped and not-run propagation, retries, a large chain-with-fan-out, and the drift check
(each source file parsed once, drift still caught)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.model import (
    Operator,
    Retry,
    RetryCondition,
    RuleType,
    RunStatus,
    SourceLocation,
    Task,
    TaskStatus,
    TriggerRule,
)
from cloacina_build.runtime import loader
from cloacina_build.runtime.runner import run_tasks
from cloacina_build.runtime.schedule import Schedule, execution_order
from cloacina_build.testing import load_source

from .workflows import write_project

HERE = SourceLocation("t.py", 1)
NO_RETRY = Retry()


def task(tid: str, *deps: str, rule: TriggerRule | None = None, retry: Retry = NO_RETRY,
         is_async: bool = False) -> Task:
    return Task(tid, f"m:{tid}", tuple(deps), retry, rule, is_async, None, HERE, "0" * 64)


def all_of(*conditions: TriggerRule) -> TriggerRule:
    return TriggerRule(RuleType.ALL, conditions=conditions)


def when(kind: RuleType, name: str) -> TriggerRule:
    return TriggerRule(kind, task_name=name)


def context_is(key: str, value) -> TriggerRule:
    return all_of(TriggerRule(RuleType.CONTEXT_VALUE, key=key, operator=Operator.EQUALS,
                              value=value))


def passthrough(ctx):
    return ctx


def run(tasks, functions=None, context=None, **kw):
    functions = functions or {}
    events = []
    result = run_tasks("wf", tasks, lambda tid: functions.get(tid, passthrough), context,
                       on_event=events.append, sleep=kw.pop("sleep", lambda s: None), **kw)
    return result, events


def statuses(result) -> dict[str, str]:
    return {t: str(o.status) for t, o in result.tasks.items()}


def assert_dependency_order(tasks, events):
    """Every started task started after each of its dependencies settled."""
    settled: dict[str, int] = {}
    for i, event in enumerate(events):
        if event.kind in ("completed", "failed", "skipped", "not_run"):
            settled.setdefault(event.task, i)
    for i, event in enumerate(events):
        if event.kind == "started":
            for dep in next(t for t in tasks if t.id == event.task).dependencies:
                assert settled[dep] < i, f"{event.task} started before {dep} settled"


# -------------------------------------------------------------------- the schedule


def test_execution_order_is_level_by_level_then_the_unreachable():
    tasks = [task("d", "b", "c"), task("c", "a"), task("b", "a"), task("a"),
             task("x", "ghost"), task("y", "x"), task("loop", "loop")]
    assert execution_order(tasks) == ["a", "b", "c", "d", "loop", "x", "y"]


def test_ready_queue_releases_a_task_when_everything_it_waits_on_is_settled():
    rule = all_of(when(RuleType.TASK_FAILED, "side"))
    schedule = Schedule([task("a"), task("b", "a"), task("side"),
                         task("c", "b", rule=rule)])
    assert [schedule.pop_ready(), schedule.pop_ready(), schedule.pop_ready()] == \
        ["a", "side", None]
    schedule.resolved("a")
    assert schedule.pop_ready() == "b"
    schedule.resolved("b")
    assert schedule.pop_ready() is None  # c also waits on the task its rule names
    schedule.resolved("side")
    assert schedule.pop_ready() == "c"
    assert schedule.stuck() == []


def test_a_task_waiting_on_itself_is_stuck_and_reported_not_run():
    result, events = run([task("a"), task("b", rule=all_of(when(RuleType.TASK_SUCCESS,
                                                                "b")))])
    assert statuses(result) == {"a": "completed", "b": "not_run"}
    assert result.tasks["b"].reason == "waits on tasks that never finish"
    assert result.status == RunStatus.COMPLETED


# -------------------------------------------------------------------- running


def test_outputs_merge_in_execution_order_and_statuses_are_typed():
    def setter(key, value):
        def fn(ctx):
            ctx.set(key, value)
            return ctx
        return fn

    tasks = [task("a"), task("b"), task("c", "b", "a")]
    result, events = run(tasks, {"a": setter("k", "a"), "b": setter("k", "b"),
                                 "c": setter("c", 1)})
    assert result.context == {"k": "b", "c": 1}  # b's output merged after a's
    assert all(isinstance(o.status, TaskStatus) for o in result.tasks.values())
    assert isinstance(result.status, RunStatus)
    out = result.to_dict()
    assert out["status"] == "completed" and type(out["status"]) is str
    assert out["tasks"] == {"a": "completed", "b": "completed", "c": "completed"}
    assert all(type(v) is str for v in out["tasks"].values())
    assert_dependency_order(tasks, events)


def test_the_ready_queue_runs_independent_tasks_concurrently():
    barrier = threading.Barrier(4, timeout=10)

    def meet(ctx):
        barrier.wait()
        return ctx

    tasks = [task("root"), *(task(f"w{i}", "root") for i in range(4)), task("end", "w0")]
    result, events = run(tasks, {f"w{i}": meet for i in range(4)}, max_workers=4)
    assert result.status == "completed", result.tasks
    assert_dependency_order(tasks, events)


def test_skipped_tasks_count_as_resolved_and_failures_propagate_not_run():
    def boom(ctx):
        raise RuntimeError("boom")

    tasks = [task("src"), task("skip", "src", rule=context_is("go", True)),
             task("after_skip", "skip"), task("bad", "src"),
             *(task(f"chain{i}", f"chain{i - 1}" if i else "bad") for i in range(300)),
             task("rescue", "bad", rule=all_of(when(RuleType.TASK_FAILED, "bad"))),
             task("late", "after_skip")]
    result, events = run(tasks, {"bad": boom}, {"go": False})
    got = statuses(result)
    assert got["skip"] == "skipped" and got["after_skip"] == "completed"
    assert got["bad"] == "failed" and got["rescue"] == "not_run"
    assert all(got[f"chain{i}"] == "not_run" for i in range(300))
    assert result.tasks["chain0"].reason == "dependency 'bad' failed"
    assert result.tasks["chain299"].reason == "dependency 'chain298' not_run"
    assert result.failed == ["bad"] and result.status == RunStatus.FAILED
    assert_dependency_order(tasks, events)


def test_a_compensating_task_with_a_rule_still_runs_after_a_failure():
    def boom(ctx):
        raise RuntimeError("boom")

    rule = all_of(when(RuleType.TASK_FAILED, "load"))
    tasks = [task("load"), task("cleanup", rule=rule), task("other", "cleanup")]
    result, _ = run(tasks, {"load": boom})
    assert statuses(result) == {"cleanup": "completed", "load": "failed",
                                "other": "not_run"}
    assert result.tasks["other"].reason == "the run failed"


def test_retries_follow_the_typed_policy():
    calls = {"flaky": 0, "never": 0}
    waits: list[float] = []

    def flaky(ctx):
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise ConnectionError("try again")
        return ctx

    def never(ctx):
        calls["never"] += 1
        raise ValueError("no")

    tasks = [task("flaky", retry=Retry(attempts=5, delay_ms=10,
                                       condition=RetryCondition.TRANSIENT)),
             task("never", retry=Retry(attempts=5, condition=RetryCondition.NEVER))]
    result, events = run(tasks, {"flaky": flaky, "never": never}, sleep=waits.append)
    assert result.tasks["flaky"].attempts == 3 and result.tasks["flaky"].status == "completed"
    assert waits == pytest.approx([0.01, 0.02])  # exponential by default
    assert [e.attempt for e in events if e.kind == "retry"] == [1, 2]
    assert result.tasks["never"].attempts == 1 and calls["never"] == 1
    assert result.tasks["never"].error == "ValueError: no"


def test_async_tasks_run_on_the_loop():
    async def coro(ctx):
        ctx.set("async", True)
        return ctx

    result, _ = run([task("a", is_async=True), task("b", "a")], {"a": coro})
    assert result.status == "completed" and result.context == {"async": True}


def chain_with_fan_out(n: int, fan: int = 10) -> list[Task]:
    out = []
    for i in range(n):
        hub = i - i % fan
        dep = hub - fan if i == hub else hub
        out.append(task(f"t{i:05d}", *([f"t{dep:05d}"] if dep >= 0 else [])))
    return out


def test_a_5000_task_chain_with_fan_out_completes_in_dependency_order():
    tasks = chain_with_fan_out(5000)
    seen: list[str] = []

    def record(tid):
        def fn(ctx):
            seen.append(tid)
            return ctx
        return fn

    result, events = run(tasks, {t.id: record(t.id) for t in tasks})
    assert result.status == "completed"
    assert len(seen) == 5000 and set(seen) == {t.id for t in tasks}
    assert all(o.status == TaskStatus.COMPLETED for o in result.tasks.values())
    assert_dependency_order(tasks, events)
    position = {tid: i for i, tid in enumerate(seen)}
    assert all(position[d] < position[t.id] for t in tasks for d in t.dependencies)


# -------------------------------------------------------------------- the drift check


def _many_tasks(n: int) -> str:
    lines = ["import cloaca", ""]
    for i in range(n):
        deps = f'["t{i - 1}"]' if i else "[]"
        lines += [f'@cloaca.task(id="t{i}", dependencies={deps})', f"def t{i}(ctx):",
                  f"    ctx.set('t{i}', {i})", "    return ctx", ""]
    return "\n".join(lines)


def test_the_drift_check_parses_each_source_file_once(tmp_path, monkeypatch):
    project = write_project(tmp_path / "p", _many_tasks(200))
    parsed: list[str] = []
    real = loader._definitions
    monkeypatch.setattr(loader, "_definitions", lambda f: parsed.append(f) or real(f))
    with load_source(project) as loaded:
        assert len(loaded.tasks) == 200
    assert len(parsed) == 1 and parsed[0].endswith("tasks.py")


def test_the_drift_check_still_catches_a_changed_body_and_a_missing_registration(tmp_path):
    from dataclasses import replace

    project = write_project(tmp_path / "p", _many_tasks(50))
    with load_source(project) as loaded:
        assert loader.drift_findings(loaded) == []
        tampered = [replace(t, fingerprint="f" * 64) if t.id == "t17" else t
                    for t in loaded.tasks] + [task("ghost")]
        drifted = loader.LoadedPackage(
            loaded.name, loaded.version, loaded.digest,
            replace(loaded.workflow, tasks=tuple(tampered)), loaded.importer,
            loaded.registry, None)
        messages = [f.message for f in loader.drift_findings(drifted)]
    assert messages == [
        "task 'ghost' is in the manifest but was not registered when the package was "
        "imported",
        "task 't17': the imported source does not match the manifest's fingerprint"]


# -------------------------------------------------------------------- any graph


@st.composite
def workflows(draw):
    """Up to 12 tasks: edges to earlier tasks, some tasks failing, and trigger rules on task
    states (any task, itself included) and on the context."""
    n = draw(st.integers(1, 12))
    names = [f"t{i}" for i in range(n)]
    tasks, failing = [], set()
    for i, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i \
            else []
        conditions = draw(st.lists(st.one_of(
            st.builds(when, st.sampled_from([RuleType.TASK_SUCCESS, RuleType.TASK_FAILED,
                                             RuleType.TASK_SKIPPED]),
                      st.sampled_from(names)),
            st.builds(lambda v: TriggerRule(RuleType.CONTEXT_VALUE, key="go",
                                            operator=Operator.EQUALS, value=v),
                      st.booleans())), max_size=2))
        combinator = draw(st.sampled_from([RuleType.ALL, RuleType.ANY, RuleType.NONE]))
        rule = TriggerRule(combinator, conditions=tuple(conditions)) \
            if draw(st.booleans()) else None
        tasks.append(task(name, *deps, rule=rule))
        if draw(st.booleans()):
            failing.add(name)
    return tasks, failing, {"go": draw(st.booleans())}


@settings(max_examples=100, deadline=None)
@given(workflows())
def test_any_workflow_settles_every_task_by_the_rules(case):
    from cloacina_build.runtime.rules import holds

    tasks, failing, context = case

    def boom(ctx):
        raise RuntimeError("boom")

    result, events = run(tasks, {t: boom for t in failing}, context)
    status = {t: o.status for t, o in result.tasks.items()}
    assert sorted(status) == sorted(t.id for t in tasks)
    assert_dependency_order(tasks, events)
    for t in tasks:
        outcome = result.tasks[t.id]
        deps = [status[d] for d in t.dependencies]
        if any(s in (TaskStatus.FAILED, TaskStatus.NOT_RUN) for s in deps):
            assert outcome.status == TaskStatus.NOT_RUN
        if outcome.status in (TaskStatus.COMPLETED, TaskStatus.FAILED):
            assert all(s in (TaskStatus.COMPLETED, TaskStatus.SKIPPED) for s in deps)
            assert holds(t.trigger_rules, context, status.get)
            assert (outcome.status == TaskStatus.FAILED) == (t.id in failing)
        if outcome.status == TaskStatus.SKIPPED:
            assert not holds(t.trigger_rules, context, status.get)
        if outcome.status == TaskStatus.NOT_RUN:
            assert outcome.reason is not None and outcome.attempts == 0
    assert (result.status == RunStatus.FAILED) == any(
        s == TaskStatus.FAILED for s in status.values())
