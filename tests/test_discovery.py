"""Static discovery: decorator forms, recorded data, and clear errors with file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cloacina_build.project.discovery import discover
from cloacina_build.project.sources import DiskTree


def run(tmp_path: Path, files: dict[str, str], entry: str = "pkg.tasks"):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return discover(DiskTree(tmp_path), entry, "wf")


def one(tmp_path, source: str):
    return run(tmp_path, {"pkg/__init__.py": "", "pkg/tasks.py": source})


def codes(found) -> list[str]:
    return [f.code for f in found.findings]


def test_attribute_form_with_all_task_settings(tmp_path):
    found = one(tmp_path, '''
        import cloaca

        @cloaca.task(id="load", dependencies=["extract"], retry_attempts=4,
                     retry_backoff="Exponential", retry_delay_ms=250, retry_max_delay_ms=4000,
                     retry_condition="transient", retry_jitter=True)
        async def load(context):
            """Load rows.

            More text that is not the summary.
            """
            return context

        @cloaca.task(id="extract")
        def extract(context):
            return context
    ''')
    assert found.findings == []
    load = next(t for t in found.tasks if t.id == "load").to_dict()
    assert load["function"] == "pkg.tasks:load"
    assert load["dependencies"] == ["extract"]
    assert load["retry"] == {"attempts": 4, "backoff": "exponential", "delay_ms": 250,
                             "max_delay_ms": 4000, "condition": "transient", "jitter": True}
    assert load["is_async"] is True
    assert load["doc"] == "Load rows."
    assert load["source"] == {"file": "pkg/tasks.py", "line": 4}  # the decorator
    assert len(load["fingerprint"]) == 64


def test_from_import_aliases_and_default_id(tmp_path):
    found = one(tmp_path, '''
        from cloaca import task as step
        import cloaca as c

        @step
        def first(context):
            return context

        @c.task(dependencies=[first])
        def second(context):
            return context
    ''')
    assert found.findings == []
    assert [(t.id, list(t.dependencies)) for t in found.tasks] == \
        [("first", []), ("second", ["first"])]


def test_unrelated_decorators_are_ignored(tmp_path):
    found = one(tmp_path, '''
        import functools
        import cloaca

        def task(**kw):
            return lambda f: f

        @task(id="not_cloaca")
        def a(context):
            return context

        @functools.lru_cache
        @cloaca.task(id="real")
        def b(context):
            return context
    ''')
    assert [t.id for t in found.tasks] == ["real"]


def test_non_literal_argument_names_file_and_line(tmp_path):
    found = one(tmp_path, '''
        import cloaca
        N = 3

        @cloaca.task(id="a",
                     retry_attempts=N)
        def a(context):
            return context
    ''')
    (finding,) = found.findings
    assert finding.code == "task-argument"
    assert finding.location == "pkg/tasks.py:6"
    assert "retry_attempts must be a literal" in finding.message


@pytest.mark.parametrize("decorator, message", [
    ('@cloaca.task("a")', "keyword arguments only"),
    ('@cloaca.task(id="a", retries=3)', "did you mean 'retry_attempts'"),
    ('@cloaca.task(id="a", retry_backoff="random")', "retry_backoff must be one of"),
    ('@cloaca.task(id="a", retry_attempts=-1)', "retry_attempts must be"),
    ('@cloaca.task(id="a", retry_jitter="yes")', "retry_jitter must be True or False"),
    ('@cloaca.task(id="a", dependencies="b")', "dependencies must be a list"),
    ('@cloaca.task(id="a", dependencies=[1])', "must be a task id"),
    ('@cloaca.task(id="has space")', "task id 'has space'"),
    ('@cloaca.task(id={"a"})', "JSON-like data"),
    ('@cloaca.task(**opts)', "cannot take **kwargs"),
    ('@cloaca.task(id="a", retry_delay_ms=10, retry_max_delay_ms=5)', "smaller than"),
])
def test_bad_task_arguments(tmp_path, decorator, message):
    found = one(tmp_path, f'''
        import cloaca
        opts = {{}}

        {decorator}
        def a(context):
            return context
    ''')
    assert len(found.findings) == 1, found.findings
    assert message in found.findings[0].message
    assert found.findings[0].location == "pkg/tasks.py:5"


def test_trigger_rules_become_engine_json(tmp_path):
    found = one(tmp_path, '''
        import cloaca
        from cloaca import context_value as cv

        @cloaca.task(id="a")
        def a(context):
            return context

        @cloaca.task(id="b", dependencies=["a"], trigger_rules=cloaca.any_of([
            cloaca.task_success("a"), cv("mode", "eq", "full"),
            cloaca.none_of([cloaca.task_failed("a")])]))
        def b(context):
            return context

        @cloaca.task(id="c", dependencies=["a"], trigger_rules=cv("n", ">", 3))
        def c(context):
            return context

        @cloaca.task(id="d", trigger_rules=cloaca.always())
        def d(context):
            return context
    ''')
    assert found.findings == []
    rules = {t.id: t.trigger_rules.to_dict() if t.trigger_rules else None
             for t in found.tasks}
    assert rules["a"] is None
    assert rules["b"] == {"type": "Any", "conditions": [
        {"type": "TaskSuccess", "task_name": "a"},
        {"type": "ContextValue", "key": "mode", "operator": "Equals", "value": "full"},
        {"type": "None", "conditions": [{"type": "TaskFailed", "task_name": "a"}]}]}
    assert rules["c"] == {"type": "All", "conditions": [
        {"type": "ContextValue", "key": "n", "operator": "GreaterThan", "value": 3}]}
    assert rules["d"] == {"type": "Always"}


@pytest.mark.parametrize("rule, message", [
    ('cloaca.context_value("k", "approximately", 1)', "unknown operator 'approximately'"),
    ("cloaca.context_value(KEY, '==', 1)", "must be a literal"),
    ("cloaca.task_success()", "is missing name"),
    ("some_function()", "is not a cloaca trigger-rule helper"),
    ("cloaca.all_of(cloaca.always())", "takes a list of conditions"),
])
def test_bad_trigger_rules(tmp_path, rule, message):
    found = one(tmp_path, f'''
        import cloaca

        @cloaca.task(id="a", trigger_rules={rule})
        def a(context):
            return context
    ''')
    assert [f.code for f in found.findings] == ["task-trigger-rules"]
    assert message in found.findings[0].message


def test_triggers_params_and_secrets_are_recorded(tmp_path):
    found = one(tmp_path, '''
        import cloaca

        @cloaca.workflow_params(region=str, batch=(int, 100), ratio=("float", 0.5))
        @cloaca.workflow_secrets("db_password", "api_token")
        @cloaca.task(id="a")
        def a(context):
            return context

        @cloaca.trigger(on="wf", cron="*/5 * * * * *")
        def every_five(context):
            return context

        @cloaca.trigger(name="inbox", poll_interval="30s", allow_concurrent=False)
        def poll(context):
            return context
    ''')
    assert found.findings == []
    assert [p.to_dict() for p in found.params] == [
        {"name": "region", "type": "str", "required": True,
         "source": {"file": "pkg/tasks.py", "line": 4}},
        {"name": "batch", "type": "int", "required": False, "default": 100,
         "source": {"file": "pkg/tasks.py", "line": 4}},
        {"name": "ratio", "type": "float", "required": False, "default": 0.5,
         "source": {"file": "pkg/tasks.py", "line": 4}},
    ]
    assert found.secrets == ["db_password", "api_token"]
    assert [(t.name, t.kind, t.schedule, t.on, t.options)
            for t in found.triggers] == [
        ("every_five", "cron", "*/5 * * * * *", "wf", {}),
        ("inbox", "poll", "30s", "wf", {"allow_concurrent": False})]


@pytest.mark.parametrize("decorator, message", [
    ('@cloaca.trigger(on="wf")', "exactly one of cron"),
    ('@cloaca.trigger(cron="* *")', "5 to 7 fields"),
    ('@cloaca.trigger(poll_interval="soon")', "must look like"),
    ('@cloaca.trigger(cron="* * * * *", on_workflow="x")', "no argument 'on_workflow'"),
    ("@cloaca.workflow_params(n=(int, 'ten'))", "not a int"),
    ("@cloaca.workflow_params(n=set)", "use one of"),
    ("@cloaca.workflow_secrets(name='x')", "positional strings"),
])
def test_bad_trigger_and_param_declarations(tmp_path, decorator, message):
    found = one(tmp_path, f'''
        import cloaca

        {decorator}
        def f(context):
            return context
    ''')
    assert len(found.findings) == 1, found.findings
    assert message in found.findings[0].message
    assert found.findings[0].location == "pkg/tasks.py:4"


@pytest.mark.parametrize("wrapper, reason", [
    ('if __name__ == "__main__":', "never registers"),
    ("class Holder:", "inside a class"),
    ("def factory():", "inside a function"),
])
def test_tasks_that_would_not_register_at_import(tmp_path, wrapper, reason):
    found = one(tmp_path, f'''
        import cloaca

        {wrapper}
            @cloaca.task(id="hidden")
            def hidden(context):
                return context
    ''')
    assert codes(found) == ["task-placement"]
    assert reason in found.findings[0].message
    assert found.tasks == []


def test_module_level_conditionals_still_register(tmp_path):
    found = one(tmp_path, '''
        import cloaca
        try:
            import json
        except ImportError:
            json = None

        if json is not None:
            @cloaca.task(id="a")
            def a(context):
                return context
    ''')
    assert [t.id for t in found.tasks] == ["a"]


def test_follows_import_time_imports_inside_the_package_only(tmp_path):
    found = run(tmp_path, {
        "pkg/__init__.py": "from . import extra\n",
        "pkg/extra.py": "import cloaca\n@cloaca.task(id='from_init')\ndef f(c):\n    return c\n",
        "pkg/tasks.py": textwrap.dedent('''
            import cloaca
            from pkg.sub import mod
            from .sub.other import thing
            import json

            def lazy():
                from . import never_imported

            @cloaca.task(id="main")
            def main(c):
                return c
        '''),
        "pkg/sub/__init__.py": "",
        "pkg/sub/mod.py": "import cloaca\n@cloaca.task(id='in_mod')\ndef g(c):\n    return c\n",
        "pkg/sub/other.py": "from cloaca import task\n@task()\ndef thing(c):\n    return c\n",
        "pkg/never_imported.py":
            "import cloaca\n@cloaca.task(id='nope')\ndef h(c):\n    return c\n",
        "pkg/unrelated.py": "import cloaca\n@cloaca.task(id='nope2')\ndef i(c):\n    return c\n",
    })
    assert found.findings == []
    assert sorted(t.id for t in found.tasks) == ["from_init", "in_mod", "main", "thing"]
    assert "pkg.never_imported" not in found.modules


def test_syntax_error_is_a_finding_with_line(tmp_path):
    found = one(tmp_path, "import cloaca\n\ndef broken(:\n    pass\n")
    assert codes(found) == ["source-syntax"]
    assert found.findings[0].location == "pkg/tasks.py:3"


def test_fingerprints_match_the_fingerprint_module(tmp_path):
    from cloacina_build.project.fingerprint import fingerprint_source

    source = "import cloaca\n\n@cloaca.task(id='a')\ndef a(c):\n    return c\n"
    found = one(tmp_path, source)
    assert found.tasks[0].fingerprint == fingerprint_source(source, "a")


def test_pathologically_deep_source_is_a_finding_not_a_crash(tmp_path):
    deep = "+".join(["1"] * 1500)
    found = one(tmp_path, f"import cloaca\n@cloaca.task(id='a')\ndef a(c):\n    return {deep}\n")
    assert codes(found) == ["source-too-complex"]
    deeper = "+".join(["1"] * 20000)
    found = one(tmp_path, f"import cloaca\n@cloaca.task(id='a')\ndef a(c):\n    return {deeper}\n")
    assert codes(found) == ["source-syntax"]


def test_deeply_nested_document_is_a_finding(tmp_path):
    from cloacina_build.format.schemas import schema_findings

    rule: dict = {"type": "Always"}
    for _ in range(900):
        rule = {"type": "All", "conditions": [rule]}
    findings = schema_findings({"workflow": {"tasks": [{"trigger_rules": rule}]}}, "manifest",
                               code="schema-manifest", location="manifest.json")
    assert findings and all(f.code == "schema-manifest" for f in findings)
