"""vectorfin: loading, Iceberg I/O and ML code behind the vectorfin_finetune dbt project."""

__version__ = "0.1.0"
