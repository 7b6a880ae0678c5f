"""Nightly order ETL.

extract_orders -> validate_orders -> load_orders -> notify (only when notify_enabled)
"""

import cloaca

from . import notify  # noqa: F401  (registers the notify task)
from .helpers import is_valid


@cloaca.workflow_params(batch_size=(int, 500), region=str)
@cloaca.workflow_secrets("warehouse_dsn")
@cloaca.task(id="extract_orders", retry_attempts=3, retry_backoff="exponential",
             retry_delay_ms=1000, retry_max_delay_ms=30000)
def extract_orders(context):
    """Pull the day's orders from the source system."""
    size = context.get("batch_size")
    context.set("orders", [{"id": i, "amount": i % 7} for i in range(size)])
    return context


@cloaca.task(id="validate_orders", dependencies=[extract_orders])
def validate_orders(context):
    """Drop orders that fail the basic checks."""
    context.set("valid_orders", [o for o in context.get("orders") if is_valid(o)])
    return context


@cloaca.task(
    id="load_orders",
    dependencies=["validate_orders"],
    retry_attempts=5,
    retry_condition="transient",
    trigger_rules=cloaca.all_of([
        cloaca.task_success("validate_orders"),
        cloaca.context_value("valid_orders", "exists", None),
    ]),
)
def load_orders(context):
    """Write the valid orders to the warehouse."""
    context.set("loaded", len(context.get("valid_orders")))
    return context


@cloaca.trigger(on="order_etl", cron="0 2 * * *")
def nightly(context):
    """Run every night at 02:00."""
    return context
