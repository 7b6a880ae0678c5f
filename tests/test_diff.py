"""``diff`` over project directories: real edits of the example projects (copied to
tmp_path), each diff read back task by task; renames, edges and the linear matching checked
on synthetic workflows, and by hypothesis against a model of the edit."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.model import (
    Language,
    PackageInfo,
    Retry,
    SourceLocation,
    Task,
    Workflow,
)
from cloacina_build.ops.describe import PROJECT, Description
from cloacina_build.ops.diff import diff_descriptions, diff_paths
from cloacina_build.ops.diff_tasks import match_renames

from .conftest import EXAMPLES

DP_TASKS = "workflow/data_pipeline/tasks.py"
ETL = "src/order_etl/workflow.py"
NOTIFY = "src/order_etl/notify.py"


def copy(name: str, dest: Path) -> Path:
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    return dest


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} is not in {rel}: the edit would do nothing"
    path.write_text(text.replace(old, new))


@pytest.fixture
def dp(tmp_path) -> tuple[Path, Path]:
    return copy("data-pipeline", tmp_path / "old"), copy("data-pipeline", tmp_path / "new")


@pytest.fixture
def etl(tmp_path) -> tuple[Path, Path]:
    return copy("order-etl", tmp_path / "old"), copy("order-etl", tmp_path / "new")


def test_the_same_project_does_not_differ(dp):
    d = diff_paths(*dp)
    assert not d.differs and d.differs_in == [] and d.summary() == "no differences"
    assert d.tasks.unchanged == 3 and d.to_dict()["differs"] is False


def test_a_body_change_is_a_code_change_of_that_task_only(dp):
    old, new = dp
    edit(new, DP_TASKS, '"records": 1000', '"records": 2000')
    d = diff_paths(old, new)
    assert [c.id for c in d.tasks.changed] == ["collect_data"]
    (change,) = d.tasks.changed[0].changes
    assert change.field == "code" and change.old != change.new
    assert not (d.tasks.added or d.tasks.removed or d.tasks.renamed or d.edges)
    assert d.differs_in == ["tasks", "workflow"]  # the workflow fingerprint moved with it
    assert d.summary() == "1 task changed"


def test_a_docstring_or_a_comment_is_no_difference(dp):
    old, new = dp
    edit(new, DP_TASKS, '"""Collect raw records from the source."""',
         '"""Collect raw records (reworded)."""\n    # a comment')
    assert not diff_paths(old, new).differs


def test_added_and_removed_tasks_with_their_edges(dp):
    old, new = dp
    text = (new / DP_TASKS).read_text()
    start = text.index('@cloaca.task(id="generate_report"')
    (new / DP_TASKS).write_text(text[:start] + SUMMARIZE)
    d = diff_paths(old, new)
    assert [t.id for t in d.tasks.added] == ["summarize"]
    assert [t.id for t in d.tasks.removed] == ["generate_report"]
    assert d.edges.added == (("collect_data", "summarize"), ("process_data", "summarize"))
    assert d.edges.removed == (("process_data", "generate_report"),)
    assert d.summary() == "1 task added, 1 removed; 2 edges added, 1 removed"


SUMMARIZE = '''@cloaca.task(id="summarize", dependencies=["process_data", "collect_data"])
def summarize(context):
    """Count what was kept."""
    context.set("summary", {"kept": context.get("processed_data")["processed_records"]})
    return context
'''


def test_a_changed_dependency(etl):
    old, new = etl
    edit(new, NOTIFY, 'dependencies=["load_orders"]', 'dependencies=["validate_orders"]')
    d = diff_paths(old, new)
    (task,) = d.tasks.changed
    assert task.id == "notify"
    deps = {c.field: c for c in task.changes}["dependencies"]
    assert (deps.old, deps.new) == (["load_orders"], ["validate_orders"])
    assert deps.detail == {"added": ["validate_orders"], "removed": ["load_orders"],
                           "renamed": []}
    assert set(task.to_dict()["changes"]) == {"code", "dependencies"}
    assert d.edges.added == (("validate_orders", "notify"),)
    assert d.edges.removed == (("load_orders", "notify"),)


def test_a_task_renamed_in_place_with_its_function(dp):
    old, new = dp
    edit(new, DP_TASKS, 'id="process_data"', 'id="clean_data"')
    edit(new, DP_TASKS, "def process_data", "def clean_data")
    edit(new, DP_TASKS, 'dependencies=["process_data"]', 'dependencies=["clean_data"]')
    d = diff_paths(old, new)
    (renamed,) = d.tasks.renamed
    assert (renamed.old_id, renamed.id, renamed.matched_by) == ("process_data", "clean_data",
                                                                 "place")
    assert [c.field for c in renamed.changes] == ["function", "code"]
    assert not (d.tasks.added or d.tasks.removed)
    assert not d.edges, "a rename alone moves no edge"
    (dependent,) = d.tasks.changed
    deps = {c.field: c for c in dependent.changes}["dependencies"]
    assert dependent.id == "generate_report"
    assert deps.detail == {"added": [], "removed": [], "renamed": [["process_data",
                                                                    "clean_data"]]}
    assert d.summary() == "1 task changed, 1 renamed"


def test_a_task_renamed_by_its_id_only(etl):
    old, new = etl
    edit(new, NOTIFY, 'id="notify"', 'id="page_oncall"')
    d = diff_paths(old, new)
    (renamed,) = d.tasks.renamed
    assert (renamed.old_id, renamed.id, renamed.matched_by) == ("notify", "page_oncall",
                                                                 "function")
    assert [c.field for c in renamed.changes] == ["code"]
    assert not d.edges


def test_a_rename_and_a_real_edge_change_together(dp):
    old, new = dp
    edit(new, DP_TASKS, 'id="process_data"', 'id="clean_data"')
    edit(new, DP_TASKS, 'dependencies=["process_data"]', 'dependencies=["collect_data"]')
    d = diff_paths(old, new)
    assert [(c.old_id, c.id) for c in d.tasks.renamed] == [("process_data", "clean_data")]
    assert d.edges.added == (("collect_data", "generate_report"),)
    assert d.edges.removed == (("process_data", "generate_report"),)


def test_retry_trigger_rules_and_async(etl):
    old, new = etl
    edit(new, ETL, "retry_attempts=5,", "retry_attempts=6,")
    edit(new, NOTIFY, '"notify_enabled", "==", True', '"notify_enabled", "==", False')
    edit(new, NOTIFY, "async def notify", "def notify")
    d = diff_paths(old, new)
    changes = {c.id: {x.field: x for x in c.changes} for c in d.tasks.changed}
    assert set(changes) == {"load_orders", "notify"}
    retry = changes["load_orders"]["retry"]
    assert retry.old["attempts"] == 5 and retry.new["attempts"] == 6
    assert set(changes["notify"]) == {"code", "trigger_rules", "is_async"}
    rule = changes["notify"]["trigger_rules"]
    assert rule.old["conditions"][0]["value"] is True
    assert rule.new["conditions"][0]["value"] is False
    assert changes["notify"]["is_async"].new is False


def test_triggers_params_and_secrets(etl):
    old, new = etl
    edit(new, ETL, 'cron="0 2 * * *"', 'cron="0 3 * * *"')
    edit(new, ETL, "batch_size=(int, 500), region=str",
         "batch_size=(int, 1000), region=str, dry_run=(bool, False)")
    edit(new, ETL, '@cloaca.workflow_secrets("warehouse_dsn")',
         '@cloaca.workflow_secrets("warehouse_url")')
    d = diff_paths(old, new)
    (trigger,) = d.triggers.changed
    assert trigger.name == "nightly" and [c.field for c in trigger.changes] == ["schedule"]
    assert [p["name"] for p in d.params.added] == ["dry_run"]
    (param,) = d.params.changed
    assert param.name == "batch_size" and (param.changes[0].old, param.changes[0].new) == \
        (500, 1000)
    assert (d.secrets.added, d.secrets.removed) == (("warehouse_url",), ("warehouse_dsn",))
    assert "1 trigger changed" in d.summary() and "1 param added, 1 changed" in d.summary()


def test_package_metadata(dp):
    old, new = dp
    edit(new, "package.toml", 'version = "1.0.0"', 'version = "1.1.0"')
    d = diff_paths(old, new)
    assert d.differs_in == ["package"]
    assert [(c.field, c.old, c.new) for c in d.package] == [("version", "1.0.0", "1.1.0")]
    assert d.summary() == "metadata: version"
    assert d.payload.compared is False and d.signatures is None
    assert "payload not compared: OLD and NEW are project directories (nothing is built)" \
        in d.notes


# ------------------------------------------------------------- synthetic workflows


def task(tid: str, deps=(), *, fp: str | None = None, function: str | None = None,
         line: int = 1) -> Task:
    return Task(id=tid, function=function or f"m:{tid}", dependencies=tuple(deps),
                retry=Retry(), trigger_rules=None, is_async=False, doc=None,
                source=SourceLocation("m.py", line), fingerprint=fp or f"fp-{tid}")


def described(tasks: list[Task], algorithm: str = "cloacina-ast-v1") -> Description:
    wf = Workflow(name="wf", entry_module="m", fingerprint="x", fingerprint_algorithm=algorithm,
                  tasks=tuple(sorted(tasks, key=lambda t: t.id)), triggers=(), params=(),
                  secrets=())
    return Description("p", PROJECT, PackageInfo("wf", "1", Language.PYTHON), wf, None, None,
                       None, None, None, ())


def test_renames_by_fingerprint_pair_one_to_one_in_id_order():
    old = [task("a", fp="same", line=1), task("b", fp="same", line=2), task("keep")]
    new = [task("y", fp="same", line=3), task("x", fp="same", line=4), task("keep"),
           task("z", fp="same", line=5)]
    d = diff_descriptions(described(old), described(new))
    assert [(c.old_id, c.id, c.matched_by) for c in d.tasks.renamed] == \
        [("a", "x", "fingerprint"), ("b", "y", "fingerprint")]
    assert [t.id for t in d.tasks.added] == ["z"]


def test_fingerprints_of_other_algorithms_are_not_compared():
    old, new = [task("a", fp="1")], [task("a", fp="2")]
    d = diff_descriptions(described(old), described(new, algorithm="other-v2"))
    assert not d.tasks and d.workflow[0].field == "fingerprint_algorithm"
    assert any("different algorithms" in n for n in d.notes)


def test_the_rename_keys_in_order():
    removed = [task("a", fp="f1", line=10), task("b", function="m:f", line=20),
               task("c", line=30)]
    added = [task("a2", fp="f1", line=11), task("b2", function="m:f", line=21),
             task("c2", line=30), task("d", line=40)]
    got = [(a.id, b.id, how) for a, b, how in match_renames(removed, added)]
    assert got == [("a", "a2", "fingerprint"), ("b", "b2", "function"), ("c", "c2", "place")]


@st.composite
def edits(draw):
    """An old workflow (a DAG over t0..tn-1) and a new one made from it by removing,
    renaming (the function kept) and adding tasks and by rewiring some edges."""
    n = draw(st.integers(1, 25))
    old = [task(f"t{i}", [f"t{j}" for j in draw(st.sets(st.integers(0, i - 1))) if i])
           if i else task("t0") for i in range(n)]
    fate = draw(st.lists(st.sampled_from(["keep", "remove", "rename"]), min_size=n,
                         max_size=n))
    renames = {t.id: f"r{t.id}" for t, f in zip(old, fate, strict=True) if f == "rename"}
    kept = [t for t, f in zip(old, fate, strict=True) if f != "remove"]
    new = []
    for t in kept:
        deps = [renames.get(d, d) for d in t.dependencies
                if any(k.id == d for k in kept) and draw(st.booleans())]
        new.append(replace(t, id=renames.get(t.id, t.id), dependencies=tuple(deps),
                           fingerprint=f"fp-{renames.get(t.id, t.id)}"))
    extra = [task(f"n{i}", [t.id for t in new[:1]], line=1000 + i)
             for i in range(draw(st.integers(0, 3)))]
    return old, new + extra, renames


def edges_of(tasks):
    return {(d, t.id) for t in tasks for d in t.dependencies}


@settings(max_examples=150, deadline=None)
@given(edits())
def test_the_diff_accounts_for_every_task_and_edge(case):
    old, new, renames = case
    d = diff_descriptions(described(old), described(new))
    assert {(c.old_id, c.id) for c in d.tasks.renamed} == set(renames.items())
    old_ids, new_ids = {t.id for t in old}, {t.id for t in new}
    assert {t.id for t in d.tasks.removed} | set(renames) | (old_ids & new_ids) == old_ids
    assert {t.id for t in d.tasks.added} | set(renames.values()) | (old_ids & new_ids) == \
        new_ids
    moved = {(renames.get(a, a), renames.get(b, b)) for a, b in edges_of(old)}
    assert set(d.edges.added) == edges_of(new) - moved
    assert {(renames.get(a, a), renames.get(b, b)) for a, b in d.edges.removed} == \
        moved - edges_of(new)
    assert d.differs == bool(d.tasks or d.edges)
    assert not diff_descriptions(described(new), described(new)).differs


def test_native_facts_and_payloads_of_one_kind_are_compared():
    from cloacina_build.model import NativeFacts, Payload, PayloadKind
    from cloacina_build.ops.describe import CLOACINA

    def native(glibc: str, sha: str) -> Description:
        facts = NativeFacts(target="x86_64-unknown-linux-gnu", os="linux", arch="x86_64",
                            elf_class=64, machine="x86-64", endianness="little",
                            glibc_floor=glibc, needed=("libc.so.6",),
                            exported_symbols=("cloacina_register",))
        payload = Payload(PayloadKind.NATIVE, "payload/lib.so", "lib.so", 10, sha, ("linux",))
        return replace(described([task("a")]), kind=CLOACINA, payload=payload, native=facts)

    d = diff_descriptions(native("2.17", "aa"), native("2.28", "bb"))
    assert [(c.field, c.old, c.new) for c in d.native] == [("glibc_floor", "2.17", "2.28")]
    assert [c.field for c in d.payload.changes] == ["sha256"]
    assert d.differs_in == ["payload", "native"] and d.signatures is not None
    assert d.summary() == "payload differs; native facts differ"
