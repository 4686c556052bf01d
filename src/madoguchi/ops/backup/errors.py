"""Why a backup, a restore or a verification stops: one exception per cause the operator can
act on, each with a Japanese message (English in parentheses) and no personal data."""

from __future__ import annotations


class BackupError(Exception):
    """A backup command cannot go on; ``str()`` is the message for the operator."""


class KeyFileProblem(BackupError):
    """The key file is missing, unreadable, not a backup key, or readable by others."""


class NotABackup(BackupError):
    """The file is not a Madoguchi backup (or a format this version cannot read)."""


class Truncated(BackupError):
    """The archive ends before its last chunk: a copy was cut short."""


class WrongKey(BackupError):
    """The archive was encrypted with another key."""


class Corrupted(BackupError):
    """A chunk fails its authentication tag, or the contents disagree with the manifest."""


class OtherInstallation(BackupError):
    """The archive was made by another installation than the target's."""


class OtherVendor(BackupError):
    """The archive holds a database of another kind (SQLite vs PostgreSQL) than the target."""


class NewerSchema(BackupError):
    """The archive's database has migrations that this version of the code does not know."""


class NotEmpty(BackupError):
    """The target database or file storage already holds data."""


class ToolMissing(BackupError):
    """``pg_dump`` or ``pg_restore`` is not installed (or failed to run)."""


class ToolFailed(BackupError):
    """``pg_dump`` or ``pg_restore`` ran and failed."""
