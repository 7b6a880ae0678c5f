"""Order ETL workflow package."""
