"""The workflow's own tests: params, trigger rules and retries, from source."""

from pathlib import Path

import pytest

from cloacina_build.testing import ParamError, run_workflow

PROJECT = Path(__file__).resolve().parent.parent


def test_loads_valid_orders_and_notifies_when_enabled():
    result = run_workflow(PROJECT, {"region": "eu", "batch_size": 14, "notify_enabled": True})
    assert result.status == "completed"
    assert result.context["loaded"] == 12
    assert result.context["notified"] is True


def test_notify_is_skipped_unless_enabled():
    result = run_workflow(PROJECT, {"region": "eu"})
    assert result.tasks["notify"].status == "skipped"


def test_region_is_required():
    with pytest.raises(ParamError, match="region"):
        run_workflow(PROJECT, {})
