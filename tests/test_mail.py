"""Optional email: invitation links, "Forgot your password?" links and expiry warnings, sent by a real huey worker
to a real SMTP server (aiosmtpd, in this process); with email off, every flow works as before and nothing says it
emailed anything."""

import email
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from email import policy
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from freezegun import freeze_time
from sqlalchemy import select

from tokens import create_app, queue, service
from tokens.extensions import db
from tokens.models import AuditEvent, utcnow

from .conftest import PASSWORD, SECRET_IN_LOG, Actions, app_on, client_at, csrf_from, dispose, make_app, seed
from .servers import ROOT, environment, free_port

SENDER = "Token portal <portal@example.com>"
# The portal's address (plain HTTP: a test client posting to https:// would need a Referer for the CSRF check).
PUBLIC_URL = "http://tokens.example.com"
NEW_PASSWORD = "a new password, long enough"


class Inbox:
    """What the SMTP server received: each message parsed, with the recipients its envelope named."""

    def __init__(self):
        self.messages, self.refuse_next = [], 0
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refuse_next:  # a server that is busy for now: the sender must try again later
            self.refuse_next -= 1
            return "451 Try again later"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._arrived:
            self.messages.append((envelope.rcpt_tos, message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait(self, count=1, timeout=20):
        """Return the first ``count`` messages, waiting for them to arrive."""
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.messages) >= count, timeout), \
                f"{len(self.messages)} of {count} emails arrived"
            return self.messages[:count]


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP server on a loopback port, for the module; each test starts with an empty inbox."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, path: str) -> str:
    """Return the one link to ``path`` in a message's text (checked to start with the portal's address)."""
    [link] = re.findall(rf"{re.escape(PUBLIC_URL)}{path}\S+", body_of(message))
    return link


def mail_app_on(seeded, tmp_path, smtp, **overrides):
    """The portal with email on, on a seeded copy of a database (``seeded``, the fixture's value)."""
    smtp.messages.clear()
    smtp.refuse_next = 0
    overrides.setdefault("QUEUE_URL", f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    return app_on(seeded, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_DEFAULT_SENDER=SENDER,
                  PUBLIC_URL=PUBLIC_URL, **overrides)


@pytest.fixture
def mail_app(seeded, tmp_path, smtp, monkeypatch):
    """The portal with email on (the SMTP server above), at PUBLIC_URL, on both databases."""
    monkeypatch.setattr(queue, "MAIL_RETRY_DELAY", 0.2)  # a failed send is tried again within the test
    app = mail_app_on(seeded, tmp_path, smtp)
    yield app
    dispose(app)


@contextmanager
def running_worker(app, workers=1):
    """Run huey's consumer on the app's queue in this process (threads), as `flask worker` does; one worker by
    default, so that tasks run in the order they were queued."""
    consumer = app.extensions["queue"].huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                                            max_delay=0.1)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer.start()
    for number, handler in handlers.items():  # the consumer's own are for a process of its own
        signal.signal(number, handler)
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)


@pytest.fixture
def worker(mail_app):
    with running_worker(mail_app) as consumer:
        yield consumer


def browser(app):
    return client_at(app, PUBLIC_URL)


def signed_in(app, email="ada@example.com", password=PASSWORD):
    actions = Actions(browser(app))
    assert actions.sign_in(email, password).status_code == 302
    return actions


def ask_reset(client, address):
    page = client.get("/forgot")
    assert page.status_code == 200
    return client.post("/forgot", data={"email": address, "csrf_token": csrf_from(page.text)})


def set_password(client, link, password=NEW_PASSWORD, confirm=None):
    page = client.get(link)
    assert page.status_code == 200, page.text
    return client.post(link, data={"password": password, "confirm": confirm or password,
                                   "csrf_token": csrf_from(page.text)})


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


# --- invitations ------------------------------------------------------------------------------------------------

def test_an_invitation_link_is_emailed_and_joins(mail_app, smtp, worker):
    ada = signed_in(mail_app)
    page = ada.client.post("/members/invitations", data={
        "email": "carol@example.com", "role": "member", "csrf_token": ada.csrf})
    assert page.status_code == 201
    assert "An email with a link to join is queued for carol@example.com." in text_of(page)
    assert "sends no email" not in page.text
    assert re.search(rf'id="invitation-link" type="text" readonly value="{PUBLIC_URL}/join/', page.text)

    [(recipients, message)] = smtp.wait()
    assert recipients == ["carol@example.com"] and message["To"] == "carol@example.com"
    assert message["From"] == SENDER and message["Subject"] == "You are invited to Acme"
    assert "Ada invites you to join Acme on its API token portal, as member." in " ".join(body_of(message).split())
    link = link_in(message, "/join/")
    carol = browser(mail_app)
    form = carol.get(link)
    assert form.status_code == 200 and "carol@example.com" in form.text
    joined = carol.post(link, data={"display_name": "Carol", "password": PASSWORD, "confirm": PASSWORD,
                                    "csrf_token": csrf_from(form.text)})
    assert joined.status_code == 302 and joined.headers["Location"] == "/preferences"
    assert "Welcome to Acme." in carol.get("/preferences").text


def test_an_invitation_revoked_before_the_worker_gets_to_it_is_not_emailed(mail_app, smtp):
    ada = signed_in(mail_app)
    for address in ("carol@example.com", "dan@example.com"):
        assert ada.client.post("/members/invitations", data={
            "email": address, "role": "member", "csrf_token": ada.csrf}).status_code == 201
    with mail_app.app_context():
        [carols] = [i for i in service.pending_invitations(service.default_membership(
            service.find_member("ada@example.com"))) if i.email == "carol@example.com"]
        public_id = carols.public_id
    assert ada.client.post(f"/members/invitations/{public_id}/revoke",
                           data={"csrf_token": ada.csrf}).status_code == 302
    with running_worker(mail_app):
        [(recipients, _)] = smtp.wait()
        time.sleep(0.3)
    assert recipients == ["dan@example.com"] and len(smtp.messages) == 1


# --- "Forgot your password?" -----------------------------------------------------------------------------------

def test_a_forgotten_password_is_reset_through_an_emailed_link_that_works_once(mail_app, smtp, worker):
    bob_elsewhere = signed_in(mail_app, "bob@example.com")  # another browser, signed in before
    visitor = browser(mail_app)
    sign_in = visitor.get("/signin")
    assert '<a href="/forgot">Forgot your password?</a>' in sign_in.text
    form = visitor.get("/forgot")
    assert '<label for="email">Email</label>' in form.text and 'autocomplete="username"' in form.text

    answer = ask_reset(visitor, "Bob@Example.com ")
    assert answer.status_code == 200
    assert ("If bob@example.com signs in here, an email with a link to choose a new password is on its way to it. "
            "The link works once, within an hour.") in text_of(answer)
    [(recipients, message)] = smtp.wait()
    assert recipients == ["bob@example.com"] and message["Subject"] == "Choose a new password"
    assert message["From"] == SENDER
    link = link_in(message, "/reset/")
    assert "within 60 minutes" in body_of(message)
    assert eventually(lambda: requests_noted(mail_app)) == 1  # the worker commits once the email went out

    done = set_password(visitor, link)
    assert done.status_code == 302 and done.headers["Location"] == "/signin"
    assert "Your password is set. Sign in with it." in visitor.get("/signin").text
    assert Actions(browser(mail_app)).sign_in("bob@example.com", PASSWORD).status_code == 422  # the old one
    assert Actions(browser(mail_app)).sign_in("bob@example.com", NEW_PASSWORD).status_code == 302
    # The other session ended, as it does when a password changes.
    assert bob_elsewhere.client.get("/preferences").status_code == 302
    # Once only.
    again = visitor.get(link)
    assert again.status_code == 400 and "This reset link was already used or is no longer valid" in again.text
    with mail_app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.subject == "bob@example.com")
                                     .order_by(AuditEvent.id)).all()
    assert actions == ["member.signed_in", "member.password_reset_requested", "member.password_reset",
                       "member.sign_in_failed", "member.signed_in"]


def test_the_new_password_follows_the_rules_and_is_typed_twice(mail_app, smtp, worker):
    visitor = browser(mail_app)
    ask_reset(visitor, "bob@example.com")
    link = link_in(smtp.wait()[0][1], "/reset/")
    short = set_password(visitor, link, "too short")
    assert short.status_code == 422 and "Choose a password of at least 12 characters." in short.text
    differ = set_password(visitor, link, NEW_PASSWORD, "another password entirely")
    assert differ.status_code == 422 and "The two passwords differ." in differ.text
    assert set_password(visitor, link).status_code == 302  # refusals did not use the link up


def test_an_emailed_link_expires_after_an_hour(mail_app, smtp, worker):
    visitor = browser(mail_app)
    ask_reset(visitor, "bob@example.com")
    link = link_in(smtp.wait()[0][1], "/reset/")
    with freeze_time(utcnow() + timedelta(minutes=50)):
        assert visitor.get(link).status_code == 200
    with freeze_time(utcnow() + timedelta(minutes=61)):
        expired = visitor.get(link)
    assert expired.status_code == 400
    assert "This link has expired. Ask for a new one: “Forgot your password?” on the sign-in page." in expired.text


def test_an_unknown_address_gets_the_same_answer_and_no_email(mail_app, smtp, worker):
    visitor = browser(mail_app)
    unknown = ask_reset(visitor, "nobody@example.com")
    known = ask_reset(visitor, "eve@example.com")
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("nobody@example.com", "eve@example.com") == known.text
    # One worker runs the tasks in order: when Eve's email is in, nobody's task was done, and sent nothing.
    [(recipients, _)] = smtp.wait()
    time.sleep(0.3)
    assert recipients == ["eve@example.com"] and len(smtp.messages) == 1


def test_a_deactivated_member_gets_no_email(mail_app, smtp, worker):
    with mail_app.app_context():
        service.set_active(service.find_member("bob@example.com"), False)
        db.session.commit()
    visitor = browser(mail_app)
    assert "If bob@example.com signs in here" in text_of(ask_reset(visitor, "bob@example.com"))
    ask_reset(visitor, "eve@example.com")
    [(recipients, _)] = smtp.wait()
    assert recipients == ["eve@example.com"]


def test_asking_is_limited_per_email_address_and_per_client(seeded, tmp_path, smtp):
    app = mail_app_on(seeded, tmp_path, smtp, RATELIMIT_ENABLED=True,
                      PASSWORD_RESET_RATE_LIMIT="4 per minute", PASSWORD_RESET_EMAIL_RATE_LIMIT="2 per hour")
    try:
        visitor = browser(app)
        # Per email address, whether it signs in here or not: the limit tells nothing about it.
        for address in ("bob@example.com", "nobody@example.com"):
            for _ in range(2):
                assert ask_reset(visitor, address).status_code == 200
            spent = ask_reset(visitor, address)
            assert spent.status_code == 429 and "Retry-After" in spent.headers
            assert ("Too many reset links were asked for this email address. Look for the last one in its mailbox "
                    "(and its spam folder), or ask again later.") in text_of(spent)
            visitor = browser(app)
            visitor.environ_base["REMOTE_ADDR"] = "198.51.100.7"  # the second address from another client
        # Per client address, whatever the email.
        visitor = browser(app)
        visitor.environ_base["REMOTE_ADDR"] = "198.51.100.8"
        for number in range(4):
            assert ask_reset(visitor, f"someone{number}@example.com").status_code == 200
        limited = ask_reset(visitor, "someone.else@example.com")
        assert limited.status_code == 429 and "Too many requests. Wait a little, then try again." in limited.text
        assert visitor.get("/forgot").status_code == 200  # reading the form is not limited
    finally:
        dispose(app)


def test_a_page_that_queues_an_email_answers_while_the_smtp_server_is_down(database, tmp_path, smtp):
    app = make_app(database, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=30,
                   QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    try:
        seed(app)
        client = app.test_client()
        started = time.monotonic()
        assert ask_reset(client, "bob@example.com").status_code == 200
        assert time.monotonic() - started < 5  # nothing was sent from the request: the worker will
        assert app.extensions["queue"].huey.pending_count() == 1  # the task waits for it
    finally:
        dispose(app)


def test_a_failed_send_is_tried_again(mail_app, smtp, worker):
    smtp.refuse_next = 2  # "451 Try again later", twice
    ask_reset(browser(mail_app), "bob@example.com")
    [(recipients, message)] = smtp.wait()
    assert recipients == ["bob@example.com"] and link_in(message, "/reset/")
    assert eventually(lambda: requests_noted(mail_app)) == 1  # noted once, for the send that went through
    time.sleep(0.3)
    assert requests_noted(mail_app) == 1


def requests_noted(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(AuditEvent.id).where(
            AuditEvent.action == "member.password_reset_requested")).all())


def eventually(check, timeout=10):
    """Return the first true value ``check`` gives (the worker commits after its email went out)."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


# --- expiry warnings -------------------------------------------------------------------------------------------

def test_an_expiry_warning_is_emailed_too_without_the_secret(mail_app, smtp, worker):
    with mail_app.app_context():
        membership = service.default_membership(service.find_member("ada@example.com"))
        token, secret = service.issue_token(membership, "deploy", expires_at=utcnow() + timedelta(days=6))
        db.session.commit()
        public_id, hint, expires = token.public_id, token.hint, token.expires_at
    assert mail_app.extensions["queue"].enqueue("send_expiry_warnings").get(blocking=True, timeout=20) == 1
    [(recipients, message)] = smtp.wait()
    body = " ".join(body_of(message).split())
    assert recipients == ["ada@example.com"]
    assert message["Subject"].strip() == 'Your API token "deploy" expires within 7 days'
    assert (f"Your API token “deploy” ({hint}) in Acme expires within 7 days, at "
            f"{expires.strftime('%Y-%m-%d %H:%M')} UTC.") in body
    assert link_in(message, "/preferences/tokens/") == f"{PUBLIC_URL}/preferences/tokens/{public_id}/rotate"
    assert secret not in message.as_string() and not SECRET_IN_LOG.search(body)
    # The notice in the portal is there as before.
    assert "Your token “deploy”" in signed_in(mail_app).client.get("/preferences").text


# --- email off --------------------------------------------------------------------------------------------------

def test_with_email_off_every_flow_works_as_before_and_nothing_says_emailed(app, client):
    sign_in = client.get("/signin")
    assert "/forgot" not in sign_in.text and "flask reset-password" in sign_in.text
    assert client.get("/forgot").status_code == 404
    assert client.post("/forgot", data={"email": "bob@example.com", "csrf_token": csrf_from(sign_in.text)}
                       ).status_code == 404
    ada = Actions(client)
    ada.sign_in()
    page = ada.client.post("/members/invitations", data={
        "email": "carol@example.com", "role": "member", "csrf_token": ada.csrf})
    assert page.status_code == 201
    assert "Send this link to carol@example.com yourself; the portal sends no email." in text_of(page)
    assert not re.search(r"emailed|queued", page.text, re.IGNORECASE)
    with app.app_context():
        membership = service.default_membership(service.find_member("ada@example.com"))
        service.issue_token(membership, "deploy", expires_at=utcnow() + timedelta(days=6))
        db.session.commit()
        assert service.send_expiry_warnings() == 1  # the notice, as before
        db.session.commit()
    assert app.extensions["queue"]._huey is None  # nothing was ever queued


# --- the worker as an operator runs it --------------------------------------------------------------------------

def test_flask_worker_sends_the_email_with_the_settings_from_the_environment(tmp_path, smtp):
    smtp.messages.clear()
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    app = make_app(tmp_path / "portal.sqlite3", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, QUEUE_URL=queue_url,
                   PUBLIC_URL=PUBLIC_URL)
    seed(app)
    env = environment(f"sqlite:///{tmp_path / 'portal.sqlite3'}", QUEUE_URL=queue_url, MAIL_SERVER="127.0.0.1",
                      MAIL_PORT=str(smtp.port), MAIL_DEFAULT_SENDER=SENDER, PUBLIC_URL=PUBLIC_URL,
                      SECRET_KEY=app.config["SECRET_KEY"])
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--max-delay", "0.2", "--no-periodic"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert any("consumer started" in line for line in iter(worker.stderr.readline, "")), "the worker died"
        ask_reset(browser(app), "bob@example.com")
        [(recipients, message)] = smtp.wait()
    finally:
        worker.send_signal(signal.SIGINT)
        log = worker.communicate(timeout=30)[1]
        dispose(app)
    assert recipients == ["bob@example.com"] and message["From"] == SENDER
    link = link_in(message, "/reset/")
    assert worker.returncode == 0 and urlsplit(link).path not in log  # no link in the worker's log
    assert set_password(browser(app), link).status_code == 302


def test_the_settings_come_from_the_environment_and_links_want_a_public_url(tmp_path, instance, monkeypatch, capsys):
    make_app(tmp_path / "env.sqlite3")  # migrated, as `flask db upgrade` leaves it
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    for name, value in {"MAIL_SERVER": "smtp.example.com", "MAIL_PORT": "587", "MAIL_USE_TLS": "true",
                        "MAIL_USERNAME": "portal", "MAIL_PASSWORD": "smtp secret"}.items():
        monkeypatch.setenv(f"FLASK_{name}", value)
    monkeypatch.delenv("FLASK_PUBLIC_URL", raising=False)
    app = create_app()
    state = app.extensions["mailman"]
    assert (state.server, state.port, state.use_tls, state.use_ssl, state.username, state.backend) == (
        "smtp.example.com", 587, True, False, "portal", "smtp")
    printed = capsys.readouterr()
    assert ("Warning: FLASK_MAIL_SERVER is set but FLASK_PUBLIC_URL is not: emailed reset links and expiry "
            "warnings point to http://127.0.0.1:5000. Set it to the portal's address") in printed.err
    assert "smtp secret" not in printed.out + printed.err
    dispose(app)
    monkeypatch.setenv("FLASK_PUBLIC_URL", "https://tokens.example.com")
    dispose(create_app())
    assert "FLASK_MAIL_SERVER" not in capsys.readouterr().err


DEAD_QUEUE = "redis://127.0.0.1:1/0"  # a Redis nobody runs: the queue is down


@pytest.fixture
def queue_down(seeded, tmp_path, smtp):
    """Email on, its queue down."""
    app = mail_app_on(seeded, tmp_path, smtp, QUEUE_URL=DEAD_QUEUE)
    yield app
    dispose(app)


def test_with_the_queue_down_an_invitation_is_made_and_the_page_says_to_send_it(queue_down, caplog):
    ada = signed_in(queue_down)
    page = ada.client.post("/members/invitations", data={
        "email": "carol@example.com", "role": "member", "csrf_token": ada.csrf})
    assert page.status_code == 201
    assert "The email to carol@example.com could not be queued: send this link yourself." in text_of(page)
    assert "The queue is unavailable: email_invitation was not queued." in caplog.text
