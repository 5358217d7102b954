"""Work for the worker asked for inside a transaction: queued once the transaction commits, so that what the
work needs is in the database (and nothing is queued for what was rolled back). ``tokens/queue.py`` listens."""

from ..extensions import db

AFTER_COMMIT = "queue_after_commit"  # the session's list of (task, arguments)


def after_commit(task: str, *args) -> None:
    """Queue the worker's ``task`` with ``args`` once the current transaction commits."""
    db.session.info.setdefault(AFTER_COMMIT, []).append((task, args))
