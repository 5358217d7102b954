"""Webhooks: the page owners and admins manage them on, the events they hear of, signed as Standard Webhooks says
and checked with its reference library by a real receiver on loopback, and the addresses they may not reach.

Deliveries here are the worker's own task run in the test's process (``Queue.deliver_webhook``); test_worker.py
runs real workers on SQLite and Redis queues.
"""

import json
import re
import subprocess
import time
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, update

from tokens import service
from tokens.extensions import db
from tokens.models import ApiToken, AuditEvent, Notice, Webhook, WebhookAttempt, WebhookMessage, utcnow
from tokens.service import addresses, delivery

from .conftest import API, PASSWORD, Actions, app_on, csrf_from, dispose, make_app
from .receiver import Receiver
from .servers import ROOT

README = ROOT / "README.md"

ALL_EVENTS = list(service.WEBHOOK_EVENTS)
OPEN = ["127.0.0.1/32"]  # the operator lets webhooks reach 127.0.0.1 (the receivers here), and nothing else private


@pytest.fixture
def hooked(seeded, tmp_path):
    """The portal with 127.0.0.1 opened to webhooks, two retries a minute apart (the tests make them due), and
    its queue in a file of the test's."""
    app = app_on(seeded, WEBHOOK_ALLOWED_NETWORKS=OPEN, WEBHOOK_RETRY_DELAYS=[60, 60], WEBHOOK_TIMEOUT=1,
                 WEBHOOK_DISABLE_AFTER=2, TRUSTED_HOSTS=["localhost", "tokens.example.com"],
                 QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    yield app
    dispose(app)


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def signed_in(app, email="ada@example.com") -> Actions:
    actions = Actions(app.test_client())
    assert actions.sign_in(email).status_code == 302
    return actions


def add(actions: Actions, url: str, events=ALL_EVENTS):
    page = actions.client.get("/webhooks")
    return actions.client.post("/webhooks", data={"url": url, "events": events, "csrf_token": csrf_from(page.text)})


def secret_of(page: str) -> str:
    return re.search(r'id="signing-secret" type="text" readonly value="(whsec_[^"]+)"', page).group(1)


def deliver_all(app) -> list[str]:
    """Make every due attempt, as the worker would; return what came of each."""
    queue = app.extensions["queue"]
    with app.app_context():
        due = list(db.session.scalars(select(WebhookMessage.public_id).filter_by(state="pending")
                                      .order_by(WebhookMessage.id)))
    return [queue.deliver_webhook(message_id) for message_id in due]


def test_an_owner_adds_a_webhook_and_sees_its_signing_secret_once(hooked, receiver):
    ada = signed_in(hooked)
    assert "No webhooks yet" in ada.client.get("/webhooks").text
    added = add(ada, receiver.url, ["token.created", "token.deleted"])
    assert added.status_code == 201
    secret = secret_of(added.text)
    assert "shown only this once" in added.text and receiver.url in added.text
    page = ada.client.get("/webhooks").text
    assert secret not in page and "whsec_" not in page and "token.created, token.deleted" in page
    with hooked.app_context():
        [hook] = db.session.scalars(select(Webhook)).all()
        stored = " ".join(str(getattr(hook, column.key)) for column in Webhook.__table__.columns)
        [event] = db.session.scalars(select(AuditEvent).filter_by(action="webhook.created")).all()
    assert secret not in stored and secret[6:] not in stored  # the database holds no secret, only a salt
    assert event.detail == "127.0.0.1 · token.created, token.deleted"
    assert "added a webhook" in ada.client.get("/audit").text


def test_only_owners_and_admins_see_webhooks_and_only_their_accounts(hooked, receiver):
    add(signed_in(hooked), receiver.url)
    with hooked.app_context():
        hook_id = db.session.scalar(select(Webhook.public_id))
    bob = signed_in(hooked, "bob@example.com")
    assert bob.client.get("/webhooks").status_code == 403
    assert "Webhooks</a>" not in bob.client.get("/preferences").text
    eve = signed_in(hooked, "eve@example.com")  # Globex's owner
    assert receiver.url not in eve.client.get("/webhooks").text
    assert eve.client.get(f"/webhooks/{hook_id}").status_code == 404
    csrf = csrf_from(eve.client.get("/webhooks").text)
    assert eve.client.post(f"/webhooks/{hook_id}/test", data={"csrf_token": csrf}).status_code == 404
    assert eve.client.post(f"/webhooks/{hook_id}/delete", data={"csrf_token": csrf}).status_code == 404
    assert eve.client.post(f"/webhooks/{hook_id}", data={"url": "https://eve.example.com/", "events": ALL_EVENTS,
                                                         "csrf_token": csrf}).status_code == 404
    assert eve.client.post(f"/webhooks/{hook_id}/secret", data={"grace": "0", "csrf_token": csrf}).status_code == 404
    for address in (f"/webhooks/{hook_id}", f"/webhooks/{hook_id}/secret"):  # a member is no manager
        assert bob.client.post(address, data={"grace": "0", "url": "https://bob.example.com/", "events": ALL_EVENTS,
                                              "csrf_token": csrf_from(bob.client.get("/preferences").text)}
                               ).status_code == 403
    with hooked.app_context():
        assert db.session.scalar(select(func.count()).select_from(Webhook)) == 1


def hook_page(actions: Actions, app) -> tuple[str, str]:
    """The webhook's address (the account's only one) and its page."""
    with app.app_context():
        hook_id = db.session.scalar(select(Webhook.public_id))
    return f"/webhooks/{hook_id}", actions.client.get(f"/webhooks/{hook_id}").text


def roll(actions: Actions, url: str, grace: str, page: str | None = None):
    """Make a new signing secret from the webhook's page (``page``: as it was shown then)."""
    page = page or actions.client.get(url).text
    seen = re.search(r'id="seen" name="seen" type="hidden" value="(\w+)"', page).group(1)
    return actions.client.post(f"{url}/secret", data={"grace": grace, "seen": seen, "csrf_token": csrf_from(page)})


def test_an_owner_sends_a_webhooks_events_elsewhere_and_chooses_others(hooked, receiver):
    ada = signed_in(hooked)
    secret = secret_of(add(ada, receiver.url, ["token.created", "token.deleted"]).text)
    url, page = hook_page(ada, hooked)
    assert "<title>Webhook to 127.0.0.1" in page and "<h1>Webhook to 127.0.0.1</h1>" in page
    assert re.search(rf'<input [^>]*name="url" [^>]*value="{receiver.url}">', page)  # the form holds what it is now
    assert re.findall(r'<input checked id="events-\d" name="events" type="checkbox" value="([\w.]+)"', page) == [
        "token.created", "token.deleted"]
    ada.generate("before")  # its token.created waits: it is no longer wanted once the change is saved
    with Receiver() as other:
        changed = ada.client.post(url, data={"url": other.url, "events": ["token.deleted"],
                                             "csrf_token": csrf_from(page)}, follow_redirects=True)
        assert "The webhook is changed: the next events go as it says now." in changed.text
        assert other.url in changed.text
        token_id = re.search(r'id="token-(\w+)"', ada.generate("deploy").text).group(1)
        ada.delete(token_id)
        deliver_all(hooked)
        [payload] = other.verified(secret)  # the same secret signs for the new URL
    assert payload["type"] == "token.deleted" and receiver.received == []  # token.created is no longer wanted
    with hooked.app_context():
        assert db.session.scalar(select(WebhookMessage.state).filter_by(event="token.created")) == "dropped"
        [event] = db.session.scalars(select(AuditEvent).filter_by(action="webhook.changed")).all()
    # The path is never in the trail (it may hold a secret): a new URL on the same host is said in words.
    assert event.detail == "127.0.0.1 · token.deleted (was 127.0.0.1 · token.created, token.deleted; a new URL)"
    assert "changed a webhook" in ada.client.get("/audit").text
    same = ada.client.post(url, data={"url": other.url, "events": ["token.deleted"], "csrf_token": csrf_from(page)},
                           follow_redirects=True)
    assert "Nothing was changed" in same.text


def test_a_webhook_turned_off_by_failures_starts_afresh_at_a_new_url_and_says_it_is_off(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    url, page = hook_page(ada, hooked)
    with hooked.app_context():
        db.session.execute(update(Webhook).values(enabled=False, failed_in_row=2, disabled_reason="Failed."))
        db.session.commit()
    with Receiver() as other:
        changed = ada.client.post(url, data={"url": other.url, "events": ["token.created"],
                                             "csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "The webhook is changed. It is off: turn it on to send it events again." in changed.text
    with hooked.app_context():
        assert db.session.scalar(select(Webhook.failed_in_row)) == 0


@pytest.mark.parametrize(("url", "events", "says"), [
    ("http://10.0.0.5/hook", ["token.created"], "10.0.0.5 is a private address"),
    ("", ["token.created"], "Give the URL the events are sent to."),
    ("RECEIVER", [], "Choose at least one event to send."),
    ("RECEIVER", ["token.stolen"], '<ul class="errors" id="events-errors"><li>There is no event called '
                                   '&#39;token.stolen&#39;.</li></ul>'),  # said once
])
def test_a_change_that_cannot_work_is_refused_and_nothing_changes(hooked, receiver, url, events, says):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    address, page = hook_page(ada, hooked)
    typed = url.replace("RECEIVER", receiver.url)
    refused = ada.client.post(address, data={"url": typed, "events": events, "csrf_token": csrf_from(page)})
    assert refused.status_code == 422 and says in refused.text
    assert re.search(rf'<input [^>]*name="url" [^>]*value="{re.escape(typed)}">', refused.text)  # as typed
    assert re.findall(r'<input checked id="events-\d" name="events" type="checkbox" value="([\w.]+)"',
                      refused.text) == [event for event in events if event in ALL_EVENTS]
    with hooked.app_context():
        hook = db.session.scalar(select(Webhook))
        assert (hook.url, hook.events) == (receiver.url, "token.created")


def test_a_new_signing_secret_is_shown_once_and_the_old_one_signs_too_for_its_grace(hooked, receiver):
    from standardwebhooks import Webhook as Verifier
    from standardwebhooks.webhooks import WebhookVerificationError
    ada = signed_in(hooked)
    first = secret_of(add(ada, receiver.url, ["token.created"]).text)
    url, page = hook_page(ada, hooked)
    assert "Old secrets" not in page and "Stop the old secret" not in page
    rolled = roll(ada, url, "3600", page)
    assert rolled.status_code == 201 and "shown only this once" in rolled.text
    second = secret_of(rolled.text)
    assert second != first and "The old one signs each event too until" in rolled.text
    again = ada.client.get(url).text
    assert second not in again and "whsec_" not in again
    assert "One signs each event too until" in again and "Stop the old secret now" in again
    ada.generate("during")
    deliver_all(hooked)
    [(headers, body, _)] = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 2  # a signature by each secret
    assert Verifier(first).verify(body, headers) == Verifier(second).verify(body, headers)  # either one checks it
    with freeze_time(utcnow() + timedelta(hours=1, minutes=1)):  # the grace is over
        ada = signed_in(hooked)
        assert "Old secrets" not in ada.client.get(url).text
        ada.generate("after")
        deliver_all(hooked)
        headers, body, _ = receiver.received[1]
        assert Verifier(second).verify(body, headers)["data"]["token"]["name"] == "after"
        with pytest.raises(WebhookVerificationError):
            Verifier(first).verify(body, headers)
        # With no grace, the old one stops at once.
        at_once = roll(ada, url, "0")
        assert "The old ones sign nothing any more" in at_once.text
        third = secret_of(at_once.text)
        ada.generate("at once")
        deliver_all(hooked)
        headers, body, _ = receiver.received[2]
        assert Verifier(third).verify(body, headers) and len(headers["webhook-signature"].split(" ")) == 1
        with pytest.raises(WebhookVerificationError):
            Verifier(second).verify(body, headers)
    with hooked.app_context():
        details = db.session.scalars(select(AuditEvent.detail).filter_by(action="webhook.secret_rolled")
                                     .order_by(AuditEvent.id)).all()
        stored = " ".join(str(value) for value in db.session.execute(select(Webhook.__table__)).one())
    assert details[0].startswith("127.0.0.1 · the old secret signs too until ")
    assert details[1] == "127.0.0.1 · the old secret stopped at once"
    assert not any(secret[6:] in stored for secret in (first, second, third))  # salts only


def test_a_second_click_makes_no_second_secret_and_one_never_copied_leaves_the_old_one_signing(hooked, receiver):
    from standardwebhooks import Webhook as Verifier
    ada = signed_in(hooked)
    first = secret_of(add(ada, receiver.url, ["token.created"]).text)
    url, page = hook_page(ada, hooked)
    assert roll(ada, url, "86400", page).status_code == 201  # the answer is lost: nobody copies this secret
    twice = roll(ada, url, "86400", page)  # the same page sent again: a double click, a reload
    assert twice.status_code == 409 and "whsec_" not in twice.text
    assert "signing secret was replaced since that page was shown" in twice.text
    third = secret_of(roll(ada, url, "86400").text)  # from the page as it is now
    ada.generate("deploy")
    deliver_all(hooked)
    [(headers, body, _)] = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 3  # the new one, the lost one, the receiver's
    assert Verifier(first).verify(body, headers) == Verifier(third).verify(body, headers)
    page = ada.client.get(url).text
    assert "2 sign each event too, the last until" in page
    # At most three old secrets sign: a fourth and a fifth new one stop the oldest.
    roll(ada, url, "3600")
    roll(ada, url, "3600")
    with hooked.app_context():
        hook = db.session.scalar(select(Webhook))
        assert len(hook.old_secrets()) == 3 and len(delivery.signing_secrets(hook)) == 4
        last = db.session.scalars(select(AuditEvent.detail).filter_by(action="webhook.secret_rolled")
                                  .order_by(AuditEvent.id.desc())).first()
        assert last.endswith("; 1 older one stopped (at most 3 old ones sign)")
    # Stop them now: only the current secret signs.
    stopped = ada.client.post(f"{url}/secret/stop", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "The old secrets stopped: only the current one signs" in stopped.text and "Old secrets" not in stopped.text
    with hooked.app_context():
        hook = db.session.scalar(select(Webhook))
        assert hook.old_secrets() == [] and len(delivery.signing_secrets(hook)) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).filter_by(
            action="webhook.old_secrets_stopped")) == 1


def test_a_grace_that_is_not_offered_is_refused_and_the_secret_stays(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url)
    url, page = hook_page(ada, hooked)
    with hooked.app_context():
        salt = db.session.scalar(select(Webhook.secret_salt))
    refused = roll(ada, url, "31536000", page)
    assert refused.status_code == 422 and "whsec_" not in refused.text
    assert ("Choose how long the old secret keeps working: none: every old secret stops at once, 1 hour, 24 hours, "
            "7 days.") in refused.text
    with hooked.app_context():
        assert db.session.scalar(select(Webhook.secret_salt)) == salt


def test_changing_a_webhook_or_its_secret_asks_for_an_old_password_again(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    url, page = hook_page(ada, hooked)
    with ada.client.session_transaction() as session:
        session["password_at"] = int(time.time()) - 3 * 3600  # typed three hours ago
    with Receiver() as other:
        for action, fields, doing in [
                (url, {"url": other.url, "events": ["token.created", "token.rotated", "member.joined"]},
                 "send the account&#39;s events to another address"),
                (f"{url}/secret", {"grace": "0"}, "make a new signing secret for a webhook")]:
            asked = ada.client.post(action, data={**fields, "csrf_token": csrf_from(page)})
            assert asked.status_code == 403 and f"You are about to {doing}" in asked.text
            assert "whsec_" not in asked.text
            assert f'<a href="{url}">Cancel</a>' in asked.text  # back to the webhook's page
            with hooked.app_context():
                hook = db.session.scalar(select(Webhook))
                assert hook.url == receiver.url and hook.old_salts == []
        # The password typed: the change goes on as asked, every event chosen kept.
        done = ada.client.post(url, data={"url": other.url, "events": ["token.created", "token.rotated",
                                                                       "member.joined"],
                                          "csrf_token": csrf_from(asked.text), "sudo_password": PASSWORD})
    assert done.status_code == 302
    with hooked.app_context():
        hook = db.session.scalar(select(Webhook))
        assert (hook.url, hook.events) == (other.url, "token.created token.rotated member.joined")


def test_downgrading_the_secrets_migration_keeps_the_webhooks_log(hooked, receiver):
    from flask_migrate import downgrade, upgrade
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    ada.generate("deploy")
    deliver_all(hooked)
    with hooked.app_context():
        downgrade(revision="0007")
        logged = db.session.scalar(select(func.count()).select_from(WebhookAttempt))
        messages = db.session.scalar(select(func.count()).select_from(WebhookMessage))
        upgrade()
    assert (messages, logged) == (1, 1)  # on SQLite a table rebuilt would take them with it (ON DELETE CASCADE)


TOO_LONG = "http://127.0.0.1/" + "a" * (2001 - len("http://127.0.0.1/"))


REFUSED = [
    ("ftp://files.example.com/hook", "starts with https://"),
    ("javascript:alert(1)", "starts with https://"),
    ("//example.com/hook", "starts with https://"),
    ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
    ("http://192.168.1.20/hook", "192.168.1.20 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://127.0.0.2:8080/hook", "127.0.0.2 is a loopback address"),  # 127.0.0.1 alone is open
    ("http://0x7f000002/hook", "(127.0.0.2) is a loopback address"),
    ("http://[::1]:8080/hook", "::1 is a loopback address"),
    ("http://[::ffff:10.1.2.3]/hook", "is a private address"),
    ("http://[fe80::1]/hook", "is a link-local address"),
    ("http://0.0.0.0/hook", "is a private address"),
    ("http://100.64.0.1/hook", "is not a public address"),
    ("http://192.0.0.8/hook", "192.0.0.8 is not a public address"),
    ("http://192.88.99.1/hook", "192.88.99.1 is not a public address"),
    ("http://[2002:a9fe:a9fe::]/hook", "is not a public address"),  # 6to4, with 169.254.169.254 inside
    ("http://[fec0::1]/hook", "is not a public address"),
    ("https://tokens.example.com/hook", "tokens.example.com is this portal's own address"),
    ("http://no-such-host.invalid/hook", "no-such-host.invalid does not resolve"),
    ("http://bücher.invalid/hook", "xn--bcher-kva.invalid does not resolve"),
    ("https://user:secret@example.com/hook", "Leave the user name and password out"),
    ("http://exa mple.com/hook", "no spaces or control characters"),
    ("http://example.com:99999/hook", "check its host name and port"),
    (TOO_LONG, "That URL is 2,001 characters long; at most 2,000 are allowed."),
    ("http://127.0.0.1/" + "ü" * 700, "Written plainly, that URL is 4,217 characters long"),
    ("", "Give the URL the events are sent to."),
]


def test_urls_a_webhook_may_not_use_are_refused_saying_why(hooked):
    ada = signed_in(hooked)
    wrong = []
    for url, says in REFUSED:  # one app for them all: each case costs a request, not a database
        answer = add(ada, url)
        if answer.status_code != 422 or says not in answer.text.replace("&#39;", "'"):
            wrong.append((url[:60], answer.status_code, re.findall(r'<li>(.*?)</li>', answer.text)))
    assert wrong == []
    with hooked.app_context():
        assert db.session.scalar(select(func.count()).select_from(Webhook)) == 0


@pytest.mark.parametrize(("url", "says"), [
    ("http://localhost:8080/hook", "localhost (127.0.0.1) is a loopback address"),
    ("http://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
])
def test_by_default_loopback_is_closed_too(app, url, says):
    answer = add(signed_in(app), url)
    assert answer.status_code == 422 and says in answer.text


def test_no_event_chosen_is_refused(hooked, receiver):
    answer = add(signed_in(hooked), receiver.url, [])
    assert answer.status_code == 422 and "Choose at least one event to send." in answer.text


def test_a_2000_character_url_and_a_unicode_path_are_kept_and_delivered_to(hooked, receiver):
    ada = signed_in(hooked)
    base = f"http://127.0.0.1:{receiver.server.server_port}"
    long_url = base + "/" + "a" * (2000 - len(base) - 1)
    assert len(long_url) == 2000 and add(ada, long_url, ["token.created"]).status_code == 201
    assert add(ada, base + "/pfad/ü?q=ä", ["token.created"]).status_code == 201
    ada.generate("deploy")
    deliver_all(hooked)
    assert sorted(path for _, _, path in receiver.wait_for(2)) == sorted(
        [long_url.removeprefix(base), "/pfad/%C3%BC?q=%C3%A4"])


def test_each_event_reaches_the_webhook_signed_and_without_any_secret(hooked, receiver):
    ada = signed_in(hooked)
    secret = secret_of(add(ada, receiver.url).text)
    made = ada.generate("deploy", expires="30")
    token_value = re.search(r'value="(tok_[0-9A-Za-z]+)"', made.text).group(1)
    with hooked.app_context():
        token = db.session.scalar(select(ApiToken).filter_by(name="deploy"))
        token_id, hint = token.public_id, token.hint
        acme = service.default_membership(service.find_member("ada@example.com"))
        service.rotate_token(acme, token_id, timedelta(hours=1), via="web")
        db.session.commit()
        new_id = db.session.scalar(select(ApiToken.public_id).where(ApiToken.replaced_at.is_(None),
                                                                    ApiToken.name == "deploy"))
        service.send_expiry_warnings(utcnow() + timedelta(days=29, hours=1))
        db.session.commit()
    ada.delete(new_id)
    # Bob's token, reported leaked through the API; then Bob is removed; then someone joins.
    bob = signed_in(hooked, "bob@example.com")
    bob_value = re.search(r'value="(tok_[0-9A-Za-z]+)"', bob.generate("ci").text).group(1)
    assert ada.client.post(f"{API}/tokens/revoke", json=[bob_value]).status_code == 202
    with hooked.app_context():
        acme = service.default_membership(service.find_member("ada@example.com"))
        bob_membership = service.membership_in(service.find_member("bob@example.com"), acme.account.public_id)
        service.remove_member(acme, bob_membership.id)
        _, link = service.invite(acme, "cy@example.com", "member")
        service.join_with_password(service.read_invitation(link), "Cy", PASSWORD)
        db.session.commit()
    deliver_all(hooked)
    payloads = receiver.verified(secret)  # each one's signature checked by the reference library
    events = [payload["type"] for payload in payloads]
    assert events == ["token.created", "token.rotated", "token.expiring", "token.deleted",
                      "token.created", "token.leaked", "member.removed", "member.joined"], events
    created = payloads[0]["data"]
    assert created["account"]["name"] == "Acme" and created["actor"] == "ada@example.com"
    assert created["token"]["id"] == token_id and created["token"]["hint"] == hint
    assert created["token"]["name"] == "deploy" and created["token"]["member"] == "ada@example.com"
    assert payloads[6]["data"]["member"] == {"email": "bob@example.com"}
    assert payloads[7]["data"]["member"] == {"email": "cy@example.com"}
    bodies = " ".join(body for _, body, _ in receiver.received)
    assert token_value not in bodies and bob_value not in bodies and token_value[-36:] not in bodies
    # The headers: a message id, the same on each attempt; a timestamp; the signature.
    headers = receiver.received[0][0]
    assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")


def test_a_forged_or_replayed_payload_fails_the_reference_check(hooked, receiver):
    from standardwebhooks import Webhook as Verifier
    from standardwebhooks.webhooks import WebhookVerificationError
    ada = signed_in(hooked)
    secret = secret_of(add(ada, receiver.url, ["token.created"]).text)
    ada.generate("deploy")
    deliver_all(hooked)
    [(headers, body, _)] = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body.replace("deploy", "deplox"), headers)
    other = secret_of(add(ada, receiver.url, ["token.created"]).text)
    with pytest.raises(WebhookVerificationError):
        Verifier(other).verify(body, headers)  # each webhook has its own secret
    # The README's receiver snippet, as written, with this webhook's secret.
    [snippet] = [block for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
                 if "standardwebhooks" in block]
    scope = {"request_body": body, "request_headers": headers}
    exec(snippet.replace('"whsec_…"', repr(secret)), scope)  # noqa: S102 - the project's own README
    assert scope["event"]["type"] == "token.created"


def test_an_account_without_webhooks_writes_no_message(app):
    ada = signed_in(app)
    ada.generate("deploy")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookMessage)) == 0


def test_a_redirect_is_never_followed(hooked):
    with Receiver(redirect_to="http://169.254.169.254/latest/meta-data/") as redirecting:
        ada = signed_in(hooked)
        add(ada, redirecting.url, ["token.created"])
        ada.generate("deploy")
        [outcome] = deliver_all(hooked)
        assert outcome == "302 Found: redirects are not followed (the URL to send to is the one saved)"
        assert len(redirecting.received) == 1


def test_a_receiver_that_does_not_answer_in_time_fails_that_attempt(hooked):
    hooked.config["WEBHOOK_TIMEOUT"] = 0.3
    with Receiver(delay=0.6) as slow:
        ada = signed_in(hooked)
        hook_page = add(ada, slow.url, ["token.created"])
        assert hook_page.status_code == 201
        ada.generate("deploy")  # the page answers at once: delivering is the worker's
        [outcome] = deliver_all(hooked)
    assert outcome == "No answer within 0.3 seconds."
    with hooked.app_context():
        message = db.session.scalar(select(WebhookMessage))
        assert (message.state, message.attempts) == ("pending", 1)  # to be tried again


def test_an_address_closed_after_saving_is_checked_again_at_each_delivery(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    ada.generate("deploy")
    hooked.config["WEBHOOK_ALLOWED_NETWORKS"] = []  # the operator closes loopback (or the name now resolves there)
    [outcome] = deliver_all(hooked)
    assert outcome == "Not sent: 127.0.0.1 is a loopback address: webhooks are only sent to public addresses."
    assert receiver.received == []


def test_a_failing_receiver_is_retried_and_the_log_shows_each_attempt(hooked):
    with Receiver([500, 503]) as flaky:
        ada = signed_in(hooked)
        add(ada, flaky.url, ["token.created"])
        ada.generate("deploy")
        assert deliver_all(hooked) == ["500 Internal Server Error"]
        assert deliver_all(hooked) == ["nothing to do"]  # not due yet: the retry waits its delay
        with hooked.app_context():
            message = db.session.scalar(select(WebhookMessage))
            message.due_at = utcnow()
            db.session.commit()
        assert deliver_all(hooked) == ["503 Service Unavailable"]
        with hooked.app_context():
            db.session.scalar(select(WebhookMessage)).due_at = utcnow()
            db.session.commit()
        assert deliver_all(hooked) == ["204 No Content"]
        assert len({headers["webhook-id"] for headers, _, _ in flaky.received}) == 1  # one message, three tries
    with hooked.app_context():
        hook_id = db.session.scalar(select(Webhook.public_id))
    log = ada.client.get(f"/webhooks/{hook_id}").text
    rows = re.findall(r'data-label="Attempt">(\d)</td>\s*<td data-label="Result">(.*?)</td>', log)
    assert [(n, re.sub(r"<[^>]+>", "", result)) for n, result in rows] == [
        ("3", "Delivered: 204 No Content"), ("2", "Failed: 503 Service Unavailable"),
        ("1", "Failed: 500 Internal Server Error")]


def test_a_webhook_failing_every_attempt_is_turned_off_and_the_owners_told(hooked):
    with Receiver([500] * 20) as broken:
        ada = signed_in(hooked)
        add(ada, broken.url, ["token.created"])
        for name in ("one", "two"):
            ada.generate(name)
        for _ in range(3):  # three attempts each: the first, then the two retries
            deliver_all(hooked)
            with hooked.app_context():
                for message in db.session.scalars(select(WebhookMessage)):
                    message.due_at = utcnow()
                db.session.commit()
        assert len(broken.received) == 6
    with hooked.app_context():
        hook = db.session.scalar(select(Webhook))
        assert not hook.enabled and "2 deliveries in a row failed every attempt" in hook.disabled_reason
        texts = db.session.scalars(select(Notice.text).filter_by(kind="webhook.disabled")).all()
        assert len(texts) == 1 and "was turned off" in texts[0]  # Ada, the only owner
    assert "was turned off" in ada.client.get("/preferences").text  # the banner
    ada.generate("three")
    with hooked.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookMessage)) == 2  # off: nothing new


def test_send_test_event_turn_off_and_on_and_delete(hooked, receiver):
    ada = signed_in(hooked)
    secret = secret_of(add(ada, receiver.url, ["member.joined"]).text)
    with hooked.app_context():
        hook_id = db.session.scalar(select(Webhook.public_id))
    csrf = csrf_from(ada.client.get(f"/webhooks/{hook_id}").text)
    sent = ada.client.post(f"/webhooks/{hook_id}/test", data={"csrf_token": csrf}, follow_redirects=True)
    assert "A test event is queued" in sent.text
    deliver_all(hooked)
    [test_event] = receiver.verified(secret)
    assert test_event["type"] == "webhook.test" and test_event["data"]["actor"] == "ada@example.com"
    off = ada.client.post(f"/webhooks/{hook_id}/switch", data={"csrf_token": csrf, "to": "off"},
                          follow_redirects=True)
    assert "The webhook is off" in off.text and "Send test event" not in off.text
    on = ada.client.post(f"/webhooks/{hook_id}/switch", data={"csrf_token": csrf, "to": "on"},
                         follow_redirects=True)
    assert "The webhook is on" in on.text
    assert ada.client.get(f"/webhooks/{hook_id}/delete").status_code == 200  # asks first, without JavaScript
    gone = ada.client.delete(f"/webhooks/{hook_id}", headers={"HX-Request": "true", "X-CSRFToken": csrf})
    assert gone.status_code == 200 and gone.data == b""
    with hooked.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookAttempt)) == 0  # its log went too
    assert ada.client.get(f"/webhooks/{hook_id}").status_code == 404


def test_messages_waiting_for_a_webhook_turned_off_are_dropped(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    ada.generate("deploy")
    with hooked.app_context():
        hook_id = db.session.scalar(select(Webhook.public_id))
        service.set_enabled(service.default_membership(service.find_member("ada@example.com")), hook_id, False)
        db.session.commit()
        assert db.session.scalar(select(WebhookMessage.state)) == "dropped"
    assert deliver_all(hooked) == []
    assert "Waiting to be delivered" not in ada.client.get(f"/webhooks/{hook_id}").text
    # Turned off by another worker just as one was queued: the attempt, once claimed, is not made, and says so.
    with hooked.app_context():
        db.session.execute(update(Webhook).values(enabled=True))
        db.session.commit()
    ada.generate("again")
    with hooked.app_context():
        db.session.execute(update(Webhook).values(enabled=False))
        db.session.commit()
    assert deliver_all(hooked) == ["nothing to do"]
    with hooked.app_context():
        assert db.session.scalars(select(WebhookMessage.state).order_by(WebhookMessage.id)).all() == [
            "dropped", "dropped"]
        assert db.session.scalar(select(WebhookAttempt.outcome)) == "Not sent: the webhook is turned off."
    assert receiver.received == []


def test_the_sweep_finds_messages_the_queue_lost_and_two_attempts_at_once_make_one(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    ada.generate("deploy")
    with hooked.app_context():
        message = db.session.scalar(select(WebhookMessage))
        message_id = message.public_id
        assert delivery.lost_messages() == []  # just written: the queue has it
        assert delivery.lost_messages(utcnow() + timedelta(minutes=2)) == [message_id]
        first = delivery.claim(message_id)
        db.session.commit()
        assert first is not None and delivery.claim(message_id) is None  # claimed: a second worker finds nothing
        assert delivery.lost_messages(utcnow() + timedelta(minutes=2)) == []  # nor does the sweep, for a while
        assert delivery.lost_messages(utcnow() + timedelta(minutes=4)) == [message_id]  # a dead worker's lease ends


def test_the_sweep_forgets_settled_messages_after_the_log_days_and_keeps_waiting_ones(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    ada.generate("old")
    assert deliver_all(hooked) == ["204 No Content"]
    with hooked.app_context():
        hook_id = db.session.scalar(select(Webhook.public_id))
    with freeze_time(utcnow() + timedelta(days=29)):
        ada = signed_in(hooked)  # a new session: the first one has ended
        ada.generate("recent")
        assert deliver_all(hooked) == ["204 No Content"]
        receiver.answers = [500]  # the next one fails and waits for its retry
        ada.generate("waiting")
        assert deliver_all(hooked) == ["500 Internal Server Error"]
    with freeze_time(utcnow() + timedelta(days=30, minutes=1)):
        hooked.extensions["queue"].in_app(hooked.extensions["queue"].sweep)()
        ada = signed_in(hooked)
        log = ada.client.get(f"/webhooks/{hook_id}").text
    with hooked.app_context():
        left = {json.loads(message.payload)["data"]["token"]["name"]: message.state
                for message in db.session.scalars(select(WebhookMessage))}
        attempts = db.session.scalar(select(func.count()).select_from(WebhookAttempt))
    assert left == {"recent": "delivered", "waiting": "pending"}  # a month old and settled: forgotten
    assert attempts == 2  # with its attempt
    assert log.count('data-label="Attempt"') == 2  # the page shows what is left


def test_an_admin_manages_webhooks_too_and_the_account_has_a_limit(hooked, receiver):
    hooked.config["WEBHOOKS_PER_ACCOUNT"] = 2
    with hooked.app_context():
        service.set_role(hooked.config["SEED"]["acme"], "bob@example.com", "admin")
        db.session.commit()
    bob = signed_in(hooked, "bob@example.com")
    assert add(bob, receiver.url).status_code == 201
    assert add(bob, receiver.url).status_code == 201
    third = add(bob, receiver.url)
    assert third.status_code == 422 and "This account has 2 webhooks, the most allowed is 2." in third.text


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-network", "FLASK_WEBHOOK_ALLOWED_NETWORKS"),
    ("WEBHOOK_RETRY_DELAYS", "5,soon", "FLASK_WEBHOOK_RETRY_DELAYS"),
    ("WEBHOOK_TIMEOUT", 0, "FLASK_WEBHOOK_TIMEOUT must be a number above 0"),
])
def test_webhook_settings_that_cannot_work_stop_the_start(tmp_path, setting, value, says):
    with pytest.raises(RuntimeError, match=says):
        make_app(tmp_path / "portal.sqlite3", **{setting: value})


# --- https: the address is pinned, the certificate still checked against the URL's name -------------------------

@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    """A certificate authority of the test's own, and certificates it signed for localhost and for another name."""
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA")
    for name in ("localhost", "elsewhere.example"):
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (folder / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return folder


def attempt(app, url: str):
    """Make one attempt at sending a message to ``url``, as a worker does."""
    with app.app_context():
        return delivery.post(delivery.Claimed(1, "msg_tls", 1, url, ("whsec_" + "c2VjcmV0" * 4,), '{"type": "x"}'))


@pytest.mark.parametrize("served", ["localhost", "elsewhere.example"])
def test_https_checks_the_certificate_against_the_urls_name(tmp_path, authority, served):
    app = make_app(tmp_path / "portal.sqlite3", WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8", "::1/128"],
                   WEBHOOK_CA_BUNDLE=str(authority / "ca.pem"))
    with Receiver(tls=(authority / f"{served}.pem", authority / f"{served}.key")) as secure:
        outcome = attempt(app, secure.url_at("localhost"))
        if served == "localhost":
            assert outcome == delivery.Outcome(True, 204, "204 No Content")
            [(headers, _, _)] = secure.received
            assert headers["Host"] == f"localhost:{secure.server.server_port}"
        else:  # connected to the address checked, the name is still the one the certificate must bear
            assert not outcome.ok and "The TLS handshake failed" in outcome.text
            assert "match" in outcome.text and secure.received == []
    dispose(app)


def test_https_trusts_no_authority_it_was_not_given(tmp_path, authority):
    app = make_app(tmp_path / "portal.sqlite3", WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8", "::1/128"])
    with Receiver(tls=(authority / "localhost.pem", authority / "localhost.key")) as secure:
        outcome = attempt(app, secure.url_at("localhost"))
    assert outcome.text == "The TLS handshake failed: unable to get local issuer certificate"
    assert secure.received == []
    dispose(app)


def test_a_receiver_not_listening_is_a_failed_attempt_that_says_so(tmp_path):
    app = make_app(tmp_path / "portal.sqlite3", WEBHOOK_ALLOWED_NETWORKS=OPEN)
    with Receiver() as gone:
        url = gone.url
    assert attempt(app, url) == delivery.Outcome(
        False, None, "Could not connect to 127.0.0.1 at any of its addresses (127.0.0.1).")
    dispose(app)


@pytest.fixture
def queue_down(seeded):
    """The queue down: a Redis nobody runs."""
    app = app_on(seeded, WEBHOOK_ALLOWED_NETWORKS=OPEN, QUEUE_URL="redis://127.0.0.1:1/0")
    yield app
    dispose(app)


def test_with_the_queue_down_events_wait_in_the_database_for_the_sweep(queue_down, caplog):
    app = queue_down
    with Receiver() as receiver:
        ada = signed_in(app)
        assert add(ada, receiver.url, ["token.created"]).status_code == 201
        assert ada.generate("deploy").status_code == 201  # the token is made, and shown
        assert "The queue is unavailable: deliver_webhook was not queued." in caplog.text
        with app.app_context():
            [message_id] = delivery.lost_messages(utcnow() + timedelta(minutes=2))  # what the sweep will send
            assert db.session.scalar(select(ApiToken.name)) == "deploy"


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(tmp_path):
    app = make_app(tmp_path / "portal.sqlite3", WEBHOOK_ALLOWED_NETWORKS=OPEN, WEBHOOK_TIMEOUT=0.5)
    with Receiver(trickle=0.02) as trickling:  # a byte every 20 ms: each read is quick, the answer never ends
        started = time.monotonic()
        outcome = attempt(app, trickling.url)
        took = time.monotonic() - started
    assert outcome == delivery.Outcome(False, None, "No answer within 0.5 seconds.")
    assert took < 1.5, took
    dispose(app)


def test_an_attempt_that_outlived_its_lease_settles_nothing(hooked, receiver):
    """Two attempts at one message (the first one's lease ran out): the late one is logged and changes nothing."""
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    ada.generate("deploy")
    with hooked.app_context():
        message_id = db.session.scalar(select(WebhookMessage.public_id))
        slow = delivery.claim(message_id)
        db.session.commit()
        later = utcnow() + timedelta(minutes=3)  # the lease is over: the sweep queued it again
        fast = delivery.claim(message_id, later)
        db.session.commit()
        assert delivery.finish(fast, delivery.Outcome(True, 204, "204 No Content"), later) is None
        db.session.commit()
        hooked.config["WEBHOOK_DISABLE_AFTER"] = 1
        assert delivery.finish(slow, delivery.Outcome(False, 500, "500 Internal Server Error"), later) is None
        db.session.commit()
        assert db.session.scalar(select(WebhookMessage.state)) == "delivered"
        hook = db.session.scalar(select(Webhook))
        assert (hook.enabled, hook.failed_in_row) == (True, 0)
        assert db.session.scalar(select(func.count()).select_from(WebhookAttempt)) == 2  # both in the log


def test_an_attempt_that_fails_inside_the_portal_is_logged_and_counted(hooked, receiver, monkeypatch):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    ada.generate("deploy")

    def broken(claimed, now=None):
        raise RuntimeError("a defect")
    monkeypatch.setattr(delivery, "post", broken)
    assert deliver_all(hooked) == ["The attempt failed inside the portal (see its log)."]
    with hooked.app_context():
        assert db.session.scalar(select(WebhookMessage.attempts)) == 1  # to be tried again, like any failure


def test_a_test_event_is_refused_behind_a_backlog(hooked, receiver):
    ada = signed_in(hooked)
    add(ada, receiver.url, ["token.created"])
    for number in range(10):
        ada.generate(f"token {number}")
    with hooked.app_context():
        hook_id = db.session.scalar(select(Webhook.public_id))
    csrf = csrf_from(ada.client.get(f"/webhooks/{hook_id}").text)
    page = ada.client.post(f"/webhooks/{hook_id}/test", data={"csrf_token": csrf}, follow_redirects=True)
    assert "10 deliveries already wait for this webhook: a test event would wait behind them." in page.text


def test_only_this_machines_own_addresses_can_be_bound():
    from ipaddress import ip_address
    assert addresses.is_local(ip_address("127.0.0.1")) and addresses.is_local(ip_address("::1"))
    assert not addresses.is_local(ip_address("93.184.215.14"))
