"""Task and workflow fingerprints: pinned values, what changes them and what does not."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.project.fingerprint import (
    ALGORITHM,
    canonical,
    fingerprint_source,
    workflow_fingerprint,
)

BASE = '''
@cloaca.task(id="collect", dependencies=[], retry_attempts=2)
def collect(context):
    """Collect things."""
    value = context.get("x")  # read
    context.set("y", value + 1)
    return context
'''

# Golden values: if these change, every published package's fingerprints change. Bump
# ALGORITHM instead of editing them.
GOLDEN_TASK = "0e3be21f8b0824bb04e1005189c4294e764aa868abf8ecfae05041eba5668727"
GOLDEN_WORKFLOW = "28527867d38a47051686e16cb48075e082c026ff243dbad4763684ed91e90d35"


def fp(source: str) -> str:
    return fingerprint_source(source, "collect")


def test_algorithm_name_is_pinned():
    assert ALGORITHM == "cloacina-ast-v1"


def test_golden_task_fingerprint():
    assert fp(BASE) == GOLDEN_TASK


def test_golden_workflow_fingerprint():
    tasks = [{"id": "b", "fingerprint": "1" * 64, "dependencies": ["a"]},
             {"id": "a", "fingerprint": "0" * 64, "dependencies": []}]
    assert workflow_fingerprint("wf", tasks) == GOLDEN_WORKFLOW


def test_golden_canonical_form():
    node = ast.parse("f(a, 'x', 1.5)").body[0]
    assert canonical(node) == ('Expr(value=Call(args=[Name(ctx=Load(),id="a"),'
                               "Constant(str:'x'),Constant(float:1.5)],"
                               'func=Name(ctx=Load(),id="f")))')


SAME = {
    "comments-and-blank-lines": BASE.replace("  # read", "  # a different comment")
    .replace("    return context", "\n    # note\n\n    return context"),
    "docstring-changed": BASE.replace("Collect things.", "Collect many other things."),
    "docstring-removed": BASE.replace('    """Collect things."""\n', ""),
    "quotes-and-spacing": BASE.replace('context.get("x")', "context.get( 'x' )"),
    "reformatted-decorator": BASE.replace(
        '@cloaca.task(id="collect", dependencies=[], retry_attempts=2)',
        '@cloaca.task(\n    id="collect",\n    dependencies=[],\n    retry_attempts=2,\n)'),
    "redundant-parentheses": BASE.replace("value + 1", "(value + 1)"),
    "moved-down-the-file": "\n\n\nimport os\n\n" + BASE,
    "indent-width": BASE.replace("\n    ", "\n        "),
}

DIFFERENT = {
    "body-changed": BASE.replace("value + 1", "value + 2"),
    "statement-added": BASE.replace("    return context", "    print(value)\n    return context"),
    "signature-changed": BASE.replace("def collect(context)", "def collect(context, extra=None)"),
    "decorator-argument-changed": BASE.replace("retry_attempts=2", "retry_attempts=3"),
    "dependency-added": BASE.replace("dependencies=[]", 'dependencies=["other"]'),
    "made-async": BASE.replace("def collect", "async def collect"),
    "string-changed": BASE.replace('context.get("x")', 'context.get("z")'),
    "int-became-float": BASE.replace("value + 1", "value + 1.0"),
    "block-structure": BASE.replace(
        '    context.set("y", value + 1)\n',
        '    if value:\n        context.set("y", value + 1)\n'),
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_formatting_does_not_change_fingerprint(name):
    assert fp(SAME[name]) == GOLDEN_TASK


@pytest.mark.parametrize("name", sorted(DIFFERENT))
def test_code_changes_change_fingerprint(name):
    assert fp(DIFFERENT[name]) != GOLDEN_TASK


def test_workflow_fingerprint_covers_name_ids_edges_and_task_fingerprints():
    tasks = [{"id": "a", "fingerprint": "0" * 64, "dependencies": []},
             {"id": "b", "fingerprint": "1" * 64, "dependencies": ["a"]}]
    base = workflow_fingerprint("wf", tasks)
    assert workflow_fingerprint("other", tasks) != base
    assert workflow_fingerprint("wf", [tasks[0], {**tasks[1], "dependencies": []}]) != base
    assert workflow_fingerprint("wf", [tasks[0], {**tasks[1], "id": "c"}]) != base
    assert workflow_fingerprint("wf", [tasks[0], {**tasks[1], "fingerprint": "2" * 64}]) != base
    assert workflow_fingerprint("wf", list(reversed(tasks))) == base


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-10**6, max_value=10**6), st.text(max_size=20))
def test_constants_are_distinguished(number, text):
    a = BASE.replace("value + 1", f"value + {number}")
    b = BASE.replace("value + 1", f"value + {number + 1}")
    assert fp(a) != fp(b)
    c = BASE.replace('"x"', repr(text))
    assert (fp(c) == GOLDEN_TASK) == (text == "x")


def test_golden_workflow_fingerprint_from_typed_tasks():
    from cloacina_build.model import Retry, SourceLocation, Task

    def task(tid, fp, deps):
        return Task(tid, f"m:{tid}", tuple(deps), Retry(), None, False, None,
                    SourceLocation("m.py", 1), fp)
    tasks = [task("b", "1" * 64, ["a"]), task("a", "0" * 64, [])]
    assert workflow_fingerprint("wf", tasks) == GOLDEN_WORKFLOW
