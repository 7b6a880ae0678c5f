"""The data pipeline workflow: collect_data -> process_data -> generate_report."""
