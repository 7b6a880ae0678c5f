"""Tasks of the data pipeline.

The engine imports this module; the decorators register each task.  cloacinactl reads
them without running anything.
"""

import cloaca


@cloaca.task(id="collect_data", dependencies=[], retry_attempts=2)
def collect_data(context):
    """Collect raw records from the source."""
    context.set("raw_data", {"records": 1000, "source": "demo_database"})
    return context


@cloaca.task(
    id="process_data",
    dependencies=["collect_data"],
    retry_attempts=3,
    retry_backoff="exponential",
    retry_delay_ms=500,
)
def process_data(context):
    """Filter out invalid records and keep the rest."""
    raw = context.get("raw_data")
    context.set("processed_data", {
        "processed_records": 950,
        "original_count": raw["records"],
        "status": "completed",
    })
    return context


@cloaca.task(id="generate_report", dependencies=["process_data"], retry_attempts=1)
def generate_report(context):
    """Write a summary report of the processed records."""
    processed = context.get("processed_data")
    context.set("final_report", {
        "total_processed": processed["processed_records"],
        "success_rate": "95%",
    })
    return context
