"""Notification task, in its own module; imported by order_etl.workflow."""

from cloaca import task, context_value


@task(
    id="notify",
    dependencies=["load_orders"],
    trigger_rules=context_value("notify_enabled", "==", True),
)
async def notify(context):
    """Tell the on-call channel how many orders were loaded."""
    context.set("notified", True)
    return context
