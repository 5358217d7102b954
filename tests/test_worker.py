"""Background work: expiry warnings 7 days and 1 day before a token expires, sent once each, and webhook
deliveries retried until they succeed or the endpoint is turned off, by huey's worker running for real
(`flask worker`) with its queue in SQLite or in Redis."""

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from tokens import service
from tokens.extensions import db
from tokens.models import Notice, Webhook, WebhookAttempt, WebhookMessage, utcnow

from .conftest import Actions, dispose, make_app, seed
from .receiver import Receiver
from .servers import ROOT, environment
from .test_redis import redis_server  # noqa: F401 - a fixture


def issue(app, email, name, expires_at):
    with app.app_context():
        member = service.find_member(email)
        token, _ = service.issue_token(service.default_membership(member), name, expires_at=expires_at)
        db.session.commit()
        return token.public_id, token.hint


def notices(app, email="ada@example.com") -> list[str]:
    with app.app_context():
        return [notice.text for notice in service.notices_for(service.find_member(email))]


def warn(app, at: datetime) -> int:
    with app.app_context(), freeze_time(at):
        sent = service.send_expiry_warnings()
        db.session.commit()
        return sent


def test_a_token_is_warned_of_7_days_and_1_day_before_it_expires_once_each(app, client):
    start = utcnow()
    token_id, hint = issue(app, "ada@example.com", "deploy", start + timedelta(days=30))
    issue(app, "ada@example.com", "forever", None)
    assert warn(app, start + timedelta(days=22, hours=23)) == 0
    assert warn(app, start + timedelta(days=23, minutes=1)) == 1
    assert warn(app, start + timedelta(days=23, minutes=2)) == 0  # a worker again, or another one: sent already
    [seven] = notices(app)
    assert seven.startswith(f"Your token “deploy” ({hint}) in Acme expires within 7 days, at ")
    assert warn(app, start + timedelta(days=29, minutes=1)) == 1
    assert warn(app, start + timedelta(days=29, minutes=30)) == 0
    assert "expires within a day" in notices(app)[1]
    assert warn(app, start + timedelta(days=31)) == 0  # expired: nothing more to say
    # The banner offers Rotate, a page of its own (the banner is on every page).
    member = Actions(client)
    member.sign_in()
    page = member.client.get("/members").text
    assert page.count(f'href="/preferences/tokens/{token_id}/rotate"') == 2
    assert member.client.get(f"/preferences/tokens/{token_id}/rotate").status_code == 200


def test_a_token_made_to_last_less_than_a_day_hears_only_the_last_warning(app):
    issue(app, "ada@example.com", "short", utcnow() + timedelta(hours=12))
    assert warn(app, utcnow()) == 1
    assert [text.split(" expires ")[1][:12] for text in notices(app)] == ["within a day"]


def test_a_replaced_token_is_not_warned_its_replacement_is(app):
    start = utcnow()
    token_id, _ = issue(app, "ada@example.com", "deploy", start + timedelta(days=30))
    with app.app_context():
        membership = service.default_membership(service.find_member("ada@example.com"))
        rotation = service.rotate_token(membership, token_id, timedelta(days=7), via="web")
        db.session.commit()
        new_hint = rotation.token.hint
    # The old one ends with its 7-day grace, unwarned: that end was chosen. The new one lives 30 days.
    assert warn(app, start + timedelta(hours=1)) == 0
    assert warn(app, start + timedelta(days=23, minutes=5)) == 1
    assert [f"({new_hint})" in text for text in notices(app)] == [True]


def test_the_warnings_come_in_rounds_every_ten_minutes(tmp_path):
    app = make_app(tmp_path / "portal.sqlite3", QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    queue = app.extensions["queue"]
    [round_] = [task for task in queue.huey._registry.periodic_tasks if task.name == "expiry_warning_round"]
    dispose(app)
    due = [minute for minute in range(60) if round_.validate_datetime(datetime(2027, 1, 1, 9, minute, tzinfo=UTC))]
    assert due == [0, 10, 20, 30, 40, 50]


# --- the worker, for real ----------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    server = request.getfixturevalue("redis_server")
    return f"redis://127.0.0.1:{server.port}/0"


def test_two_workers_at_once_send_each_warning_once(tmp_path, queue_url):
    database = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    env = environment(database, QUEUE_URL=queue_url, WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32")
    app = make_app(tmp_path / "portal.sqlite3", QUEUE_URL=queue_url, WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"],
                   SECRET_KEY=env["FLASK_SECRET_KEY"], TOKEN_DIGEST_KEY=env["FLASK_TOKEN_DIGEST_KEY"])
    seed(app)
    receiver = Receiver().__enter__()  # Acme's webhook hears each of its 10 warnings, once
    with app.app_context():
        ada = service.default_membership(service.find_member("ada@example.com"))
        secret = service.create_webhook(ada, receiver.url, ["token.expiring"])[1]
        db.session.commit()
    soon = utcnow() + timedelta(days=6)
    for number in range(5):
        issue(app, "ada@example.com", f"ada {number}", soon)
        issue(app, "bob@example.com", f"bob {number}", soon)
    issue(app, "eve@example.com", "eve's", utcnow() + timedelta(hours=5))
    # Without the periodic rounds: started at a minute ending in 0, a worker's own round would send the warnings
    # before the six queued here, which then (rightly) find none to send, and could not be counted.
    workers = [subprocess.Popen([sys.executable, "-m", "flask", "worker", "--max-delay", "0.2", "--no-periodic"],
                                cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for worker in workers:  # both running before the rounds are queued
            assert any("consumer started" in line for line in iter(worker.stderr.readline, "")), "a worker died"
        queue = app.extensions["queue"]
        rounds = [queue.enqueue("send_expiry_warnings") for _ in range(6)]  # six rounds at once, on two workers
        sent = [result.get(blocking=True, timeout=60) for result in rounds]
        receiver.wait_for(10)
    finally:
        receiver.__exit__(None, None, None)
        for worker in workers:
            worker.send_signal(signal.SIGINT)  # huey's graceful stop: the tasks running finish
        logs = [worker.communicate(timeout=30)[1] for worker in workers]
        dispose(app)
    assert sum(sent) == 11 and sent.count(0) >= 4, (sent, logs)
    with app.app_context():
        per_token = db.session.execute(select(Notice.text, func.count()).group_by(Notice.text)).all()
    assert len(per_token) == 11 and {count for _, count in per_token} == {1}
    assert [worker.returncode for worker in workers] == [0, 0], logs  # stopped gracefully
    warned = receiver.verified(secret)
    assert len(warned) == 10 and len({p["data"]["token"]["id"] for p in warned}) == 10
    assert {p["data"]["token"]["member"] for p in warned} == {"ada@example.com", "bob@example.com"}


# --- webhooks, delivered by a real worker ------------------------------------------------------

def eventually(check, timeout: float = 15):
    """Wait for ``check()`` to hold (the worker settles an attempt just after the receiver answered it)."""
    deadline = time.monotonic() + timeout
    while not (held := check()):
        assert time.monotonic() < deadline, "it did not happen in time"
        time.sleep(0.05)
    return held


def test_a_worker_retries_a_receiver_until_it_recovers_and_turns_off_one_that_never_does(tmp_path, queue_url):
    database = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    # As an operator writes them in the environment (the worker reads them there).
    env = environment(database, QUEUE_URL=queue_url, WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32",
                      WEBHOOK_RETRY_DELAYS="0.3,0.3", WEBHOOK_DISABLE_AFTER="2")
    # The worker signs with the secret the page showed: both derive it from the same TOKEN_DIGEST_KEY.
    app = make_app(tmp_path / "portal.sqlite3", SECRET_KEY=env["FLASK_SECRET_KEY"],
                   TOKEN_DIGEST_KEY=env["FLASK_TOKEN_DIGEST_KEY"], QUEUE_URL=queue_url,
                   WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"])
    seed(app)
    with Receiver([500, 503]) as flaky, Receiver([500] * 10) as broken:
        with app.app_context():
            ada = service.default_membership(service.find_member("ada@example.com"))
            flaky_id, secret = (lambda pair: (pair[0].public_id, pair[1]))(
                service.create_webhook(ada, flaky.url, ["token.created"]))
            broken_id = service.create_webhook(ada, broken.url, ["token.created"])[0].public_id
            db.session.commit()
        issue(app, "ada@example.com", "one", None)  # each queued as its transaction commits
        issue(app, "ada@example.com", "two", None)
        worker = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--max-delay", "0.2", "--no-periodic"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            flaky.wait_for(4)  # 500, 503, then 204 for one message; 204 for the other
            broken.wait_for(6)  # three attempts for each of two messages
            with app.app_context():
                eventually(lambda: db.session.scalar(select(Webhook.enabled).filter_by(public_id=broken_id)) is False)
                eventually(lambda: db.session.scalar(select(func.count()).select_from(WebhookMessage).filter_by(
                    state="delivered")) == 2)
        finally:
            worker.send_signal(signal.SIGINT)
            log = worker.communicate(timeout=30)[1]
            dispose(app)
        assert worker.returncode == 0, log
        payloads = flaky.verified(secret)  # the reference library checks each signature
        assert len(payloads) == 4 and {p["data"]["token"]["name"] for p in payloads} == {"one", "two"}
    with app.app_context():
        attempts = db.session.execute(
            select(WebhookMessage.public_id, WebhookMessage.state, WebhookAttempt.attempt, WebhookAttempt.outcome)
            .join(WebhookAttempt, WebhookAttempt.message_id == WebhookMessage.id)
            .join(Webhook, Webhook.id == WebhookMessage.webhook_id).where(Webhook.public_id == flaky_id)).all()
        # The receiver failed twice (whichever messages came first), then took each: all recorded.
        assert sorted(outcome for *_, outcome in attempts) == [
            "204 No Content", "204 No Content", "500 Internal Server Error", "503 Service Unavailable"]
        assert {state for _, state, *_ in attempts} == {"delivered"}
        last = {message: max(n for m, _, n, _ in attempts if m == message) for message, *_ in attempts}
        assert {(n, outcome) for message, _, n, outcome in attempts if n == last[message]} <= {
            (1, "204 No Content"), (2, "204 No Content"), (3, "204 No Content")}
        broken_hook = db.session.scalar(select(Webhook).filter_by(public_id=broken_id))
        assert "2 deliveries in a row failed every attempt" in broken_hook.disabled_reason
        [told] = db.session.scalars(select(Notice.text).filter_by(kind="webhook.disabled")).all()
        assert told.startswith(f"The webhook to {broken.url} in Acme was turned off")
