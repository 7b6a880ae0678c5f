"""The executor, from source through cloacina_build.testing: order, concurrency, retries,
trigger rules, skips, params, async tasks and failures."""

from __future__ import annotations

import threading

import pytest

from cloacina_build.errors import ProjectError
from cloacina_build.model import Backoff, Retry
from cloacina_build.runtime.loader import DriftError
from cloacina_build.runtime.runner import ParamError, retry_delay
from cloacina_build.testing import run_workflow

from .conftest import EXAMPLES
from .workflows import write_project


def run(tmp_path, tasks: str, context=None, **kw):
    project = write_project(tmp_path / "p", tasks)
    events = []
    result = run_workflow(project, context, on_event=events.append,
                          sleep=kw.pop("sleep", lambda s: None), **kw)
    return result, events


def statuses(result) -> dict[str, str]:
    return {t: o.status for t, o in result.tasks.items()}


def test_example_pipeline_from_source():
    result = run_workflow(EXAMPLES / "data-pipeline")
    assert result.status == "completed"
    assert result.context["final_report"] == {"total_processed": 950, "success_rate": "95%"}


def test_each_task_sees_its_dependencies_outputs(tmp_path):
    result, _ = run(tmp_path, '''
        import cloaca

        @cloaca.task(id="a")
        def a(ctx):
            ctx.set("a", 1)
            return ctx

        @cloaca.task(id="b")
        def b(ctx):
            ctx.set("b", 2)
            assert ctx.get("a") is None  # independent of a
            return ctx

        @cloaca.task(id="c", dependencies=["a", "b"])
        def c(ctx):
            ctx.insert("sum", ctx.get("a") + ctx.get("b"))
            return ctx
    ''')
    assert result.status == "completed"
    assert result.context == {"a": 1, "b": 2, "sum": 3}


def test_independent_tasks_run_concurrently(tmp_path):
    result, _ = run(tmp_path, '''
        import threading
        import cloaca

        barrier = threading.Barrier(3, timeout=10)

        @cloaca.task(id="x")
        def x(ctx):
            barrier.wait()
            return ctx

        @cloaca.task(id="y")
        def y(ctx):
            barrier.wait()
            return ctx

        @cloaca.task(id="z")
        def z(ctx):
            barrier.wait()
            return ctx
    ''')
    assert result.status == "completed", result.to_dict()["failures"]


def test_async_tasks_run_on_an_event_loop(tmp_path):
    result, _ = run(tmp_path, '''
        import asyncio
        import cloaca

        @cloaca.task(id="first")
        async def first(ctx):
            await asyncio.sleep(0)
            ctx.set("loop", type(asyncio.get_running_loop()).__name__)
            return ctx

        @cloaca.task(id="second", dependencies=["first"])
        async def second(ctx):
            await asyncio.sleep(0)
            ctx.set("seen", ctx.get("loop") is not None)
            return ctx
    ''')
    assert result.status == "completed"
    assert result.context["seen"] is True


def test_retries_with_exponential_backoff(tmp_path):
    waits = []
    result, events = run(tmp_path, '''
        import cloaca
        calls = []

        @cloaca.task(id="flaky", retry_attempts=3, retry_backoff="exponential",
                     retry_delay_ms=100, retry_max_delay_ms=250)
        def flaky(ctx):
            calls.append(1)
            if len(calls) < 4:
                raise ConnectionError(f"attempt {len(calls)}")
            ctx.set("calls", len(calls))
            return ctx
    ''', sleep=waits.append)
    assert result.status == "completed" and result.context["calls"] == 4
    assert result.tasks["flaky"].attempts == 4
    assert waits == [0.1, 0.2, 0.25]
    assert [e.kind for e in events] == ["started", "retry", "retry", "retry", "completed"]


def test_retries_run_out_and_the_run_fails_with_the_users_traceback(tmp_path):
    result, _ = run(tmp_path, '''
        import cloaca

        def helper(n):
            raise ValueError(f"bad value {n}")

        @cloaca.task(id="breaks", retry_attempts=2, retry_backoff="fixed", retry_delay_ms=5)
        def breaks(ctx):
            helper(42)

        @cloaca.task(id="after", dependencies=["breaks"])
        def after(ctx):
            return ctx
    ''')
    assert result.status == "failed" and result.failed == ["breaks"]
    outcome = result.tasks["breaks"]
    assert outcome.attempts == 3 and outcome.error == "ValueError: bad value 42"
    assert 'in helper\n    raise ValueError(f"bad value {n}")' in outcome.traceback
    assert "wf_test/tasks.py" in outcome.traceback
    assert "cloacina_build" not in outcome.traceback
    assert statuses(result)["after"] == "not_run"


def test_retry_condition(tmp_path):
    result, _ = run(tmp_path, '''
        import cloaca
        calls = []

        @cloaca.task(id="t", retry_attempts=5, retry_condition="transient")
        def t(ctx):
            calls.append(1)
            raise KeyError("not transient")
    ''')
    assert result.tasks["t"].attempts == 1


@pytest.mark.parametrize("backoff, expected", [
    ("fixed", [0.1, 0.1, 0.1]), ("linear", [0.1, 0.2, 0.3]),
    ("exponential", [0.1, 0.2, 0.4])])
def test_backoff_shapes(backoff, expected):
    import random

    retry = Retry(backoff=Backoff(backoff), delay_ms=100, jitter=False)  # no cap
    assert [retry_delay(retry, n, random.Random(0)) for n in (1, 2, 3)] == \
        pytest.approx(expected)


def test_trigger_rules_skip_and_skipped_dependency_counts_as_resolved(tmp_path):
    result, events = run(tmp_path, '''
        import cloaca

        @cloaca.task(id="source")
        def source(ctx):
            ctx.set("mode", "incremental")
            return ctx

        @cloaca.task(id="full_rebuild", dependencies=["source"],
                     trigger_rules=cloaca.context_value("mode", "==", "full"))
        def full_rebuild(ctx):
            ctx.set("rebuilt", True)
            return ctx

        @cloaca.task(id="incremental", dependencies=["source"],
                     trigger_rules=cloaca.context_value("mode", "equals", "incremental"))
        def incremental(ctx):
            ctx.set("incremental", True)
            return ctx

        @cloaca.task(id="publish", dependencies=["full_rebuild", "incremental"])
        def publish(ctx):
            ctx.set("published", [ctx.get("rebuilt"), ctx.get("incremental")])
            return ctx

        @cloaca.task(id="audit", dependencies=["publish"],
                     trigger_rules=cloaca.all_of([cloaca.task_skipped("full_rebuild"),
                                                  cloaca.task_success("incremental")]))
        def audit(ctx):
            ctx.set("audited", True)
            return ctx
    ''')
    assert statuses(result) == {"source": "completed", "full_rebuild": "skipped",
                                "incremental": "completed", "publish": "completed",
                                "audit": "completed"}
    assert result.context["published"] == [None, True]
    assert "rebuilt" not in result.context
    assert [e.kind for e in events if e.task == "full_rebuild"] == ["skipped"]


def test_task_failed_rule_runs_a_compensating_task(tmp_path):
    result, _ = run(tmp_path, '''
        import cloaca

        @cloaca.task(id="risky")
        def risky(ctx):
            raise RuntimeError("boom")

        @cloaca.task(id="cleanup", trigger_rules=cloaca.task_failed("risky"))
        def cleanup(ctx):
            ctx.set("cleaned", True)
            return ctx
    ''')
    assert result.status == "failed"
    assert statuses(result) == {"risky": "failed", "cleanup": "completed"}
    assert result.context == {"cleaned": True}


def test_params_defaults_types_and_missing(tmp_path):
    tasks = '''
        import cloaca

        @cloaca.workflow_params(region=str, batch=(int, 100), ratio=(float, 0.5))
        @cloaca.task(id="use")
        def use(ctx):
            ctx.set("seen", [ctx.get("region"), ctx.get("batch"), ctx.get("ratio")])
            return ctx
    '''
    result, _ = run(tmp_path, tasks, {"region": "eu", "ratio": 2})
    assert result.context["seen"] == ["eu", 100, 2]
    with pytest.raises(ParamError, match="required param 'region' \\(str\\) is missing"):
        run(tmp_path / "2", tasks, {})
    with pytest.raises(ParamError, match="param 'batch' must be a int, not str '7'"):
        run(tmp_path / "3", tasks, {"region": "eu", "batch": "7"})
    with pytest.raises(ParamError, match="param 'batch' must be a int, not bool"):
        run(tmp_path / "4", tasks, {"region": "eu", "batch": True})


def test_context_semantics(tmp_path):
    result, _ = run(tmp_path, '''
        import cloaca

        @cloaca.task(id="t")
        def t(ctx):
            ctx.insert("a", 1)
            try:
                ctx.insert("a", 2)
            except KeyError:
                ctx.set("insert_refused", True)
            ctx.update("a", 3)
            try:
                ctx.update("missing", 1)
            except KeyError:
                ctx.set("update_refused", True)
            ctx.set("gone", 1)
            ctx.delete("gone")
            ctx.set("copy_is_independent", ctx.to_dict() is not ctx.to_dict())
            return ctx
    ''')
    assert result.context == {"a": 3, "insert_refused": True, "update_refused": True,
                              "copy_is_independent": True}


def test_drift_between_registration_and_source_is_refused(tmp_path):
    with pytest.raises(DriftError) as info:
        run(tmp_path, '''
            import os
            import cloaca

            if os.environ.get("CLOACINA_TEST_NEVER_SET"):
                @cloaca.task(id="conditional")
                def conditional(ctx):
                    return ctx

            @cloaca.task(id="always_there")
            def always_there(ctx):
                return ctx

            def made_at_runtime(ctx):
                return ctx

            cloaca.task(id="dynamic")(made_at_runtime)
        ''')
    messages = [f.message for f in info.value.findings]
    assert "task 'conditional' is in the manifest but was not registered when the package " \
           "was imported" in messages
    assert "task 'dynamic' was registered at import but is not in the manifest" in messages


def test_a_broken_project_is_a_project_error(tmp_path):
    with pytest.raises(ProjectError):
        run(tmp_path, "import cloaca\n@cloaca.task(id='a', dependencies=['b'])\ndef a(c):\n"
                      "    return c\n")


def test_runs_do_not_leak_modules_into_sys_modules(tmp_path):
    import sys

    run(tmp_path, "import cloaca\n@cloaca.task(id='a')\ndef a(c):\n    return c\n")
    assert not [m for m in sys.modules if m.startswith("wf_test")]
    assert "cloaca" not in sys.modules


def test_run_is_thread_safe_for_many_tasks(tmp_path):
    body = "import cloaca\n" + "".join(
        f"@cloaca.task(id='t{i}')\ndef t{i}(c):\n    c.set('t{i}', {i})\n    return c\n"
        for i in range(40))
    body += "@cloaca.task(id='join', dependencies=[" + ",".join(
        f"'t{i}'" for i in range(40)) + "])\ndef join(c):\n    c.set('n', len(c.keys()))\n" \
        "    return c\n"
    result, _ = run(tmp_path, body)
    assert result.status == "completed" and result.context["n"] == 40
    assert threading.active_count() < 50


@pytest.mark.parametrize("example", ["data-pipeline", "order-etl"])
def test_the_examples_own_test_suites_pass(example):
    """A workflow project's pytest suite uses cloacina_build.testing, as documented."""
    import subprocess
    import sys

    # -o addopts=: the example sits inside this checkout, whose pytest options (parallel
    # workers) it would otherwise inherit; its own suite is two tests
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-o", "addopts=", str(EXAMPLES / example / "tests")],
                          capture_output=True, text=True, cwd=EXAMPLES / example)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout


def test_the_compatible_cloaca_reads_operators_with_the_rule_book():
    from cloacina_build.runtime.cloaca_compat import make_module

    cloaca = make_module()
    spelled = {"==": "Equals", "not_in": "NotContains", "Greater Than": "GreaterThan",
               "NotExists": "NotExists", "lt": "LessThan"}
    for spelling, canonical in spelled.items():
        assert cloaca.context_value("k", spelling, 1) == {
            "type": "ContextValue", "key": "k", "operator": canonical, "value": 1}
    with pytest.raises(ValueError, match="unknown operator 'approximately'"):
        cloaca.context_value("k", "approximately", 1)
