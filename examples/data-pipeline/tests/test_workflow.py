"""The workflow's own tests: run it from source, the way the engine would."""

from pathlib import Path

from cloacina_build.testing import run_workflow

PROJECT = Path(__file__).resolve().parent.parent


def test_pipeline_produces_a_report():
    result = run_workflow(PROJECT)
    assert result.status == "completed", result.failed
    assert result.context["final_report"] == {"total_processed": 950, "success_rate": "95%"}


def test_tasks_run_in_dependency_order():
    order = []
    run_workflow(PROJECT, on_event=lambda e: e.kind == "started" and order.append(e.task))
    assert order == ["collect_data", "process_data", "generate_report"]
