"""The data layer: contract 1 (schemas), loading, validation, snapshots, sample data.

Typical use::

    from reporting.data import load_dataset, write_snapshot, read_audits

    ds = load_dataset("data/")            # raises DataValidationError listing every problem
    digest = write_snapshot(ds, "snap/")  # Parquet per table + content hash
    br = read_audits("snap/", market="BR", period_from="2026-09", period_to="2026-10")

See docs/data.md and docs/conventions.md.
"""

from .dataset import Dataset, summarize_dataset
from .loaders import load_dataset
from .problems import DataValidationError, Problem, ValidationReport
from .sample import PLANTED_STORIES, generate_sample_data, planted_stories, write_sample_data
from .schema import CONTRACT, TABLES, canonical_schema
from .snapshot import (
    load_snapshot,
    read_audits,
    read_production,
    snapshot_hash,
    write_snapshot,
)
from .validate import validate_dataset

__all__ = [
    "CONTRACT",
    "PLANTED_STORIES",
    "TABLES",
    "DataValidationError",
    "Dataset",
    "Problem",
    "ValidationReport",
    "canonical_schema",
    "generate_sample_data",
    "load_dataset",
    "load_snapshot",
    "planted_stories",
    "read_audits",
    "read_production",
    "snapshot_hash",
    "summarize_dataset",
    "validate_dataset",
    "write_sample_data",
    "write_snapshot",
]
