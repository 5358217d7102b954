"""Background work on huey: its queue in a SQLite file beside the portal's database on one machine (no other
server to run), or in Redis when several instances share it (FLASK_QUEUE_URL=redis://...).

The worker is ``flask worker`` (bin/run starts one beside the web server). The huey instance is made on first
use, so an app that never queues anything (a test, a CLI command) opens no queue at all.
"""

import os

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab
from sqlalchemy import event
from sqlalchemy.orm import Session

from . import service
from .extensions import db
from .service import delivery
from .service.jobs import AFTER_COMMIT

# How often the worker looks for tokens reaching a warning (7 days and 1 day before they expire).
WARNING_ROUNDS = crontab(minute="*/10")
# How often it looks for webhook messages the queue lost (it was down when they were written).
SWEEPS = crontab(minute="*")
# An email that fails (the SMTP server down, slow or refusing for now) is tried again 5 times, after 30 s, then
# 1, 2, 4 and 8 minutes: a quarter of an hour in all.
MAIL_RETRIES, MAIL_RETRY_DELAY = 5, 30
# Ahead of webhook deliveries waiting in the queue: a reset link must not wait behind a slow receiver's backlog.
MAIL_PRIORITY = 10


def init_app(app: Flask) -> None:
    url = app.config["QUEUE_URL"] or f"sqlite:///{os.path.join(app.instance_path, 'queue.sqlite3')}"
    app.extensions["queue"] = Queue(app, url)


@event.listens_for(Session, "after_commit")
def queue_what_was_asked(session) -> None:
    """Queue the tasks a transaction asked for (``service.after_commit``), now that what they need is in the
    database (the API app shares the pages' queue)."""
    if (tasks := session.info.pop(AFTER_COMMIT, None)) and "queue" in current_app.extensions:
        queue = current_app.extensions["queue"]
        for name, args in tasks:
            queue.enqueue_safely(name, *args)


@event.listens_for(Session, "after_rollback")
def forget_what_was_asked(session) -> None:
    session.info.pop(AFTER_COMMIT, None)  # nothing was written: nothing to do


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
            self.tasks["deliver_webhook"] = huey.task(name="deliver_webhook")(self.deliver_webhook)
            self.tasks["webhook_sweep"] = huey.periodic_task(SWEEPS, name="webhook_sweep")(self.in_app(self.sweep))
            # Email (MAIL_SERVER set): one task per message, so one that fails is tried again alone.
            for work in (service.send_email, service.email_invitation, service.email_password_reset):
                self.tasks[work.__name__] = huey.task(
                    name=work.__name__, retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_DELAY, retry_backoff=2,
                    priority=MAIL_PRIORITY)(self.in_app(work))
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

    def enqueue(self, name: str, *args, delay: float | None = None):
        """Queue the task ``name`` (now, or in ``delay`` seconds); return huey's handle on its result."""
        self.huey  # noqa: B018 - made on first use, with its tasks
        if delay:
            return self.tasks[name].schedule(args, delay=delay)
        return self.tasks[name](*args)

    def deliver_webhook(self, message_id: str) -> str:
        """Make a webhook message's next attempt, if due; queue the retry its failure asks for."""
        with self.app.app_context():
            claimed = delivery.claim(message_id)
            db.session.commit()
            if claimed is None:
                return "nothing to do"
            try:
                outcome = delivery.post(claimed)
            except Exception:  # noqa: BLE001 - logged; the attempt still counts, so the message ends
                self.app.logger.exception("Webhook message %s: the attempt failed inside the portal.", message_id)
                outcome = delivery.Outcome(False, None, "The attempt failed inside the portal (see its log).")
            retry = delivery.finish(claimed, outcome)
            db.session.commit()
        if retry is not None:
            self.enqueue("deliver_webhook", message_id, delay=retry)
        return outcome.text

    def sweep(self) -> int:
        """Queue again the webhook messages the queue lost; forget settled ones past WEBHOOK_LOG_DAYS."""
        lost = delivery.lost_messages()
        for message_id in lost:
            self.enqueue("deliver_webhook", message_id)
        delivery.prune_log()
        return len(lost)

    def enqueue_safely(self, name: str, *args) -> bool:
        """Queue a task, or say in the log that the queue could not take it (Redis down...); return which.

        What was asked has happened already (committed): a page must not answer 500 for it. A webhook message
        waits in the database for the sweep; an email is not sent, and the page that asked says so.
        """
        try:
            self.enqueue(name, *args)
        except Exception:  # noqa: BLE001 - whatever the storage raises
            self.app.logger.warning("The queue is unavailable: %s was not queued.", name, exc_info=True)
            return False
        return True


def storage(url: str):
    """Return a huey on ``url``: ``sqlite:///path`` (a file, made if missing) or ``redis://host:port/db``."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("portal", url=url)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SqliteHuey("portal", filename=url.removeprefix("sqlite:///"))
    raise RuntimeError(f"FLASK_QUEUE_URL must be sqlite:///path or redis://host:port/db, not {url!r}.")
