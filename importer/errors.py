"""One exception hierarchy; each error knows its exit code and the next step for the user.

A bad *row* is never an exception: it is data (a status and a message in the report).
These are for faults that stop the whole run.
"""

from __future__ import annotations


class ImporterError(Exception):
    """Base: a message for a person, an exit code, and a hint on what to do next."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.summary = ""  # the run's summary, when the run got far enough to have one

    def paragraph(self) -> str:
        """The one paragraph printed to the user."""
        return f"{self.message} {self.hint}".strip()


class UsageError(ImporterError):
    """Bad arguments or options (exit 2)."""


class ConfigError(ImporterError):
    """Missing or malformed credentials, base URL or settings (exit 2)."""


class MappingError(ImporterError):
    """The mapping file is invalid or does not fit the source (exit 2)."""


class SourceError(ImporterError):
    """The source file cannot be read (exit 2); nothing was sent."""


class JobLockedError(ImporterError):
    """Another run of the same job holds the journal (exit 2)."""


class StateError(ImporterError):
    """The job database or an output cannot be written: a read-only folder, a full disk.
    Exit 2 while nothing was sent, 3 once sending began (the same command resumes)."""

    def __init__(self, message: str, hint: str, exit_code: int) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


class AbortError(ImporterError):
    """The run was aborted: credentials rejected or server unreachable (exit 3)."""

    exit_code = 3


class ErrorRateExceeded(ImporterError):
    """Stopped by --max-error-rate (exit 4)."""

    exit_code = 4


class Interrupted(ImporterError):
    """Stopped by SIGINT (130) or SIGTERM (143)."""

    def __init__(self, signum: int) -> None:
        import signal

        name = "SIGINT" if signum == signal.SIGINT else "SIGTERM"
        super().__init__(
            f"Interrupted by {name}.", "Run the same command again to resume where it stopped."
        )
        self.exit_code = 128 + signum
