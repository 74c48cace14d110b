"""The job database: one SQLite file per job, the one store every stage shares (SPEC §1, §6).

`database` opens and locks it; its parts: `changes` (planning's writes), `delivery` (the
send phase's), `lookups` (what the look-up stage saw), `account` (the account's record
across jobs), `reports` (rows read back), `undoing` (what undo needs and did).
"""

from importer.journal.changes import GroupedRow
from importer.journal.database import Journal, Stager, account_path, journal_path
from importer.journal.delivery import AttemptLog, Outcome, PendingRow, Recorder
from importer.journal.lookups import Seen, Wanted
from importer.journal.reports import ReportRow, read_report
from importer.journal.undoing import Undone, Written

__all__ = [
    "AttemptLog",
    "GroupedRow",
    "Journal",
    "Outcome",
    "PendingRow",
    "Recorder",
    "ReportRow",
    "Seen",
    "Stager",
    "Undone",
    "Wanted",
    "Written",
    "account_path",
    "journal_path",
    "read_report",
]
