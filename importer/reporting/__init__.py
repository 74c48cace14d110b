"""Reporting: what a run tells its user, all read back from the job database.

`report` writes one line per source row, `rejects` the rows to fix and import again,
`summary` the counts for a person and a scheduler; `tables` writes CSV, XLSX or JSONL;
`paths` checks every output before anything is sent.
"""

from importer.reporting.paths import check_outputs, check_writable
from importer.reporting.rejects import write_rejects
from importer.reporting.report import COLUMNS, source_columns, write_job_report, write_report
from importer.reporting.summary import STATUSES, counts_text, summary_text, write_summary
from importer.reporting.tables import check_format, open_table

__all__ = [
    "COLUMNS",
    "STATUSES",
    "check_format",
    "check_outputs",
    "check_writable",
    "counts_text",
    "open_table",
    "source_columns",
    "summary_text",
    "write_job_report",
    "write_rejects",
    "write_report",
    "write_summary",
]
