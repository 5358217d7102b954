"""Background work on huey: its queue in a SQLite file beside the portal's database on one machine (no other
server to run), or in Redis when several instances share it (FLASK_QUEUE_URL=redis://...).

The worker is ``flask worker`` (bin/run starts one beside the web server). The huey instance is made on first
use, so an app that never queues anything (a test, a CLI command) opens no queue at all.
"""

import os

from flask import Flask
from huey import RedisHuey, SqliteHuey, crontab

from . import service
from .extensions import db

# How often the worker looks for tokens reaching a warning (7 days and 1 day before they expire).
WARNING_ROUNDS = crontab(minute="*/10")
# An email that fails (the SMTP server down, slow or refusing for now) is tried again 5 times, after 30 s, then
# 1, 2, 4 and 8 minutes: a quarter of an hour in all.
MAIL_RETRIES, MAIL_RETRY_DELAY = 5, 30


def init_app(app: Flask) -> None:
    url = app.config["QUEUE_URL"] or f"sqlite:///{os.path.join(app.instance_path, 'queue.sqlite3')}"
    app.extensions["queue"] = Queue(app, url)


class Queue:
    """The app's huey, made on first use, with the portal's tasks (each run inside the app's context)."""

    def __init__(self, app: Flask, url: str):
        self.app, self.url = app, url
        self._huey = None
        self.tasks = {}

    @property
    def huey(self):
        if self._huey is None:
            self._huey = huey = storage(self.url)
            warnings = self.in_app(service.send_expiry_warnings)
            # The rounds, and the same work on demand (huey keeps no result of a periodic task).
            self.tasks["expiry_warning_round"] = huey.periodic_task(WARNING_ROUNDS, name="expiry_warning_round")(
                warnings)
            self.tasks["send_expiry_warnings"] = huey.task(name="send_expiry_warnings")(warnings)
            # Email (MAIL_SERVER set): one task per message, so one that fails is tried again alone.
            for work in (service.send_email, service.email_invitation, service.email_password_reset):
                self.tasks[work.__name__] = huey.task(name=work.__name__, retries=MAIL_RETRIES,
                                                      retry_delay=MAIL_RETRY_DELAY, retry_backoff=2)(self.in_app(work))
        return self._huey

    def in_app(self, work):
        """Run ``work`` in the app's context and commit what it did (a task runs in a worker's thread)."""
        def task(*args):
            with self.app.app_context():
                done = work(*args)
                db.session.commit()
                return done
        task.__name__ = work.__name__
        return task

    def enqueue(self, name: str, *args):
        """Queue the task ``name`` (with ``args``) now (the worker runs it at once); return huey's handle on its
        result."""
        self.huey  # noqa: B018 - made on first use, with its tasks
        return self.tasks[name](*args)


def storage(url: str):
    """Return a huey on ``url``: ``sqlite:///path`` (a file, made if missing) or ``redis://host:port/db``."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("portal", url=url)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SqliteHuey("portal", filename=url.removeprefix("sqlite:///"))
    raise RuntimeError(f"FLASK_QUEUE_URL must be sqlite:///path or redis://host:port/db, not {url!r}.")
