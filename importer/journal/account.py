"""The account's record (`known`, one database per account, across jobs): the last payload
acknowledged for each email and how it was sent. Classification reads it (no look-up for a
known email), --skip-unchanged compares with it."""

from __future__ import annotations

from importer.journal.base import Base


class Account(Base):
    def count_unknown_pending(self) -> int:
        """Pending rows whose email this account never acknowledged: the look-ups needed."""
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM rows WHERE status = 'pending' "
                "AND email NOT IN (SELECT email FROM account.known)"
            ).fetchone()[0]
        )

    def skip_unchanged(self, how: str) -> int:
        """Rows whose payload, and how it is sent, equal the last ones acknowledged for
        that email: not sent. An email whose last write is unsettled has no digest."""
        with self._transaction():
            changed = self.db.execute(
                "UPDATE rows SET status = 'unchanged', contact_id = k.contact_id "
                "FROM account.known k WHERE rows.status = 'pending' AND k.email = rows.email "
                "AND k.digest = rows.digest AND k.how = ?",
                (how,),
            ).rowcount
        return int(changed)

    def unsettle_known(self, how: str) -> None:
        """Before anything is sent: the emails about to get a different write lose their
        digest, until it is acknowledged (`sync_known`). Killed in between, or its outcome
        unknown, the email is never skipped as unchanged: the account may hold either."""
        with self._transaction():
            self.db.execute(
                "UPDATE account.known SET digest = NULL FROM "
                "(SELECT email, digest FROM rows WHERE status = 'pending' ORDER BY email) r "
                "WHERE known.email = r.email AND known.digest IS NOT NULL "
                "AND (known.digest IS NOT r.digest OR known.how IS NOT ?)",
                (how,),
            )

    def sync_known(self, how: str) -> None:
        """Copy this job's acknowledged successes into the account's `known`, all at once.

        Upserted one batch at a time, the emails' random order made each commit rewrite
        hundreds of pages of `known` (13 µs a row, twice the rest of a commit); in one
        statement, sorted, 2.4 µs. Called before sending (catching up on a killed run)
        and after it; meanwhile no pending row of this job shares an email with them.
        """
        with self._transaction():
            self.db.execute(
                "INSERT INTO account.known (email, contact_id, digest, how) "
                "SELECT r.email, r.contact_id, r.digest, ? FROM acked a JOIN rows r USING (row) "
                "WHERE true ORDER BY r.email "  # `WHERE true`: SQLite's UPSERT rule
                "ON CONFLICT (email) DO UPDATE SET digest = excluded.digest, "
                "how = excluded.how, contact_id = COALESCE(excluded.contact_id, contact_id)",
                (how,),
            )
            self.db.execute("DELETE FROM acked")

    def known(self, emails: list[str]) -> dict[str, str | None]:
        """Emails this account already acknowledged (any job), with their contact ids."""
        marks = ",".join("?" * len(emails))
        found = self.db.execute(
            f"SELECT email, contact_id FROM account.known WHERE email IN ({marks})", emails
        )
        return {str(e): c for e, c in found}
