"""Teams: who may do what (the permission matrix), members, invitations, sessions."""

import json
import re
import threading
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, update

from tokens import service
from tokens.extensions import db
from tokens.models import Account, ApiToken, AuditEvent, Invitation, Member, Membership, utcnow
from tokens.service.passwords import hash_password

from .conftest import API, PASSWORD, PUBLIC_URL, Actions, client_at, csrf_from, headers_of, login, triggered_notice


@pytest.fixture
def team(app):
    """Acme: Ada (owner), Carl (admin), Bob and Dora (members), each signed in with a token; Globex: Eve."""
    with app.app_context():
        acme = service.find_account(app.config["SEED"]["acme"])
        service.add_member(acme, "carl@example.com", "Carl", PASSWORD, "admin")
        service.add_member(acme, "dora@example.com", "Dora", PASSWORD, "member")
        db.session.commit()
    people = {}
    for name in ("ada", "carl", "bob", "dora", "eve"):
        actions = Actions(app.test_client())
        assert actions.sign_in(f"{name}@example.com").status_code == 302
        assert actions.generate(f"{name}'s token").status_code == 201
        people[name] = actions
    return people


def token_of(app, name):
    with app.app_context():
        return db.session.scalar(select(ApiToken.public_id).filter_by(name=f"{name}'s token"))


def membership_id(app, email, account="acme"):
    with app.app_context():
        return db.session.scalar(select(Membership.id).join(Membership.member).filter_by(email=email).where(
            Membership.account.has(public_id=app.config["SEED"][account])))


def snapshot(app):
    """Everything a refused action must leave as it was."""
    with app.app_context():
        return (sorted(db.session.scalars(select(ApiToken.public_id))),
                sorted(db.session.execute(select(Membership.id, Membership.role)).all()),
                sorted(db.session.execute(select(Invitation.id, Invitation.revoked_at, Invitation.used_at)).all()))


def htmx_headers(actions):
    return {"HX-Request": "true", "X-CSRFToken": actions.csrf}


def set_role(who, membership, role):
    return who.client.post(f"/members/{membership}/role", data={"role": role}, headers=htmx_headers(who))


# Each action as one role would try it: (request, whether it succeeded).
def view_inventory(app, who):
    page = who.page().text
    return 200, "bob&#39;s token" in page and "dora&#39;s token" in page


def delete_anothers_token(app, who):
    victim = "dora" if who is not app.config["people"]["dora"] else "bob"
    response = who.delete(token_of(app, victim))
    return response.status_code, token_of(app, victim) is None


def invite(app, who):
    response = who.client.post("/members/invitations", data={
        "email": "newcomer@example.com", "role": "member", "csrf_token": who.csrf})
    with app.app_context():
        made = db.session.scalar(select(func.count()).select_from(Invitation))
    return response.status_code, made == 1


def change_role(app, who):
    target = membership_id(app, "dora@example.com")
    response = who.client.post(f"/members/{target}/role", data={"role": "admin"}, headers=htmx_headers(who))
    with app.app_context():
        return response.status_code, db.session.get(Membership, target).role == "admin"


def remove_member(app, who):
    target = membership_id(app, "bob@example.com" if who is app.config["people"]["dora"] else "dora@example.com")
    response = who.client.delete(f"/members/{target}", headers=htmx_headers(who))
    with app.app_context():
        return response.status_code, db.session.get(Membership, target) is None


def read_audit(app, who):
    response = who.client.get("/audit")
    return response.status_code, response.status_code == 200 and "created a token" in response.text


ACTIONS = {"view inventory": view_inventory, "delete another's token": delete_anothers_token, "invite": invite,
           "change role": change_role, "remove member": remove_member, "read audit": read_audit}
REFUSED_STATUS = {"view inventory": 200, "delete another's token": 404, "invite": 403, "change role": 403,
                  "remove member": 403, "read audit": 403}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role, person", [("owner", "ada"), ("admin", "carl"), ("member", "dora")])
def test_permission_matrix(app, team, role, person, action):
    app.config["people"] = team
    before = snapshot(app)
    status, succeeded = ACTIONS[action](app, team[person])
    if role in ("owner", "admin"):
        assert succeeded and status in (200, 201), (status, action)
    else:
        assert not succeeded and status == REFUSED_STATUS[action]
        assert snapshot(app) == before


@pytest.mark.parametrize("action", ["delete", "confirm page", "role", "remove", "revoke invitation"])
def test_another_accounts_owner_reaches_nothing_of_acme(app, team, action):
    eve = team["eve"]
    with app.app_context():
        invitation, _ = service.invite(db.session.scalar(select(Membership).filter_by(
            id=membership_id(app, "ada@example.com"))), "x@example.com", "member")
        db.session.commit()
        invitation_id = invitation.public_id
    before = snapshot(app)
    target = membership_id(app, "bob@example.com")
    response = {
        "delete": lambda: eve.delete(token_of(app, "bob")),
        "confirm page": lambda: eve.client.get(f"/preferences/tokens/{token_of(app, 'bob')}/delete"),
        "role": lambda: eve.client.post(f"/members/{target}/role", data={"role": "owner"}, headers=htmx_headers(eve)),
        "remove": lambda: eve.client.delete(f"/members/{target}", headers=htmx_headers(eve)),
        "revoke invitation": lambda: eve.client.post(f"/members/invitations/{invitation_id}/revoke",
                                                     data={"csrf_token": eve.csrf}),
    }[action]()
    assert response.status_code == 404
    assert snapshot(app) == before
    assert "bob&#39;s token" not in eve.page().text


def test_an_admin_cannot_touch_owners_or_make_one(app, team):
    carl = team["carl"]
    before = snapshot(app)
    ada = membership_id(app, "ada@example.com")
    assert set_role(carl, ada, "member").status_code == 403
    assert carl.client.delete(f"/members/{ada}", headers=htmx_headers(carl)).status_code == 403
    dora = membership_id(app, "dora@example.com")
    assert set_role(carl, dora, "owner").status_code == 403
    refused = carl.client.post("/members/invitations", data={"email": "boss@example.com", "role": "owner",
                                                             "csrf_token": carl.csrf})
    assert refused.status_code == 403
    assert snapshot(app) == before


LAST_OWNER = "The account needs at least one owner: make someone else an owner first."


def notice_of(response) -> tuple[str, str]:
    """The kind and text of the message an htmx answer has the page show (its HX-Trigger event)."""
    notice = json.loads(response.headers["HX-Trigger"])["portal:notice"]
    return notice["kind"], notice["message"]


def test_the_account_keeps_an_owner(app, team):
    ada = team["ada"]
    own = membership_id(app, "ada@example.com")
    # The page disables what would be refused, saying why next to it, from the same rule as the refusal.
    row = member_row(ada.client.get("/members").text, "ada@example.com")
    assert f'<select id="role-{own}" name="role" disabled aria-describedby="why-{own}">' in row
    assert f'<small id="why-{own}" class="reason">{LAST_OWNER}</small>' in row
    assert row.count(f'disabled aria-describedby="why-{own}"') == 3  # the select, Save and Remove
    # Forged anyway, it is refused: htmx swaps in the rows as they stand (the select shows Owner) and says why.
    refused = set_role(ada, own, "admin")
    assert refused.status_code == 422 and refused.headers["HX-Reswap"] == "innerHTML"
    assert notice_of(refused) == ("error", LAST_OWNER)
    assert '<option value="owner" selected>' in member_row(refused.text, "ada@example.com")
    # Without JavaScript, the page says the same, with the role held.
    plain = ada.client.post(f"/members/{own}/role", data={"role": "admin", "csrf_token": ada.csrf})
    assert plain.status_code == 422 and LAST_OWNER in plain.text
    assert '<option value="owner" selected>' in member_row(plain.text, "ada@example.com")
    assert ada.client.delete(f"/members/{own}", headers=htmx_headers(ada)).status_code == 422
    carl = membership_id(app, "carl@example.com")
    made = set_role(ada, carl, "owner")
    # The message is the one a plain post flashes; every row comes back, Ada's free now that Carl is owner too.
    assert made.status_code == 200 and notice_of(made) == ("success", "Carl is now owner.")
    assert "disabled" not in member_row(made.text, "ada@example.com")
    assert set_role(ada, own, "admin").status_code == 200


def test_an_admin_finds_disabled_what_only_an_owner_may_do(app, team):
    page = team["carl"].client.get("/members").text
    ada, dora = membership_id(app, "ada@example.com"), membership_id(app, "dora@example.com")
    owners_only = "Only an owner can give, take or remove the owner role."
    assert f'<small id="why-{ada}" class="reason">{owners_only}</small>' in member_row(page, "ada@example.com")
    dora_row = member_row(page, "dora@example.com")
    assert '<option value="owner" disabled>' in dora_row and f'id="why-{dora}"' not in dora_row
    assert "disabled" not in dora_row.replace('<option value="owner" disabled>', "")


def member_row(page: str, email: str) -> str:
    """The row of the Members page for the member with this email, as HTML."""
    return re.search(rf'<tr id="member-\d+">\s*<td[^>]*>[^<]*<small>{re.escape(email)}</small>.*?</tr>',
                     page, re.S).group(0)


def test_members_page_lists_roles_last_sign_in_and_token_counts(app, team):
    page = team["ada"].client.get("/members").text
    row = member_row(page, "bob@example.com")
    assert 'value="member" selected' in row and '<td data-label="Tokens">1</td>' in row and "UTC</time>" in row
    assert "Remove Bob (bob@example.com) from the account? Their 1 token in it will be deleted at once." in row


def test_removing_a_member_deletes_their_tokens_and_ends_their_sessions(app, team, client):
    bob_api = headers_of(login(app.test_client(), "bob@example.com"))
    ada = team["ada"]
    target = membership_id(app, "bob@example.com")
    response = ada.client.delete(f"/members/{target}", headers=htmx_headers(ada))
    assert response.status_code == 200 and "with 2 tokens" in triggered_notice(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken).where(
            ApiToken.member.has(email="bob@example.com"))) == 0
        event = db.session.scalar(select(AuditEvent).filter_by(action="member.removed"))
        assert event.detail == "2 tokens deleted" and event.subject == "bob@example.com"
    assert client.get(f"{API}/tokens/self", headers=bob_api).status_code == 401
    assert team["bob"].client.get("/preferences").status_code == 302


def test_changing_the_password_ends_the_other_sessions(app, team):
    elsewhere = Actions(app.test_client())
    elsewhere.sign_in("ada@example.com")
    ada = team["ada"]
    new = "a brand new passphrase"
    wrong = ada.client.post("/preferences/password", data={"current": "nope", "password": new, "confirm": new,
                                                           "csrf_token": ada.csrf})
    assert wrong.status_code == 422 and "That is not your current password." in wrong.text
    # The card is far down the page: the message region at its top says it too, and the field takes the focus.
    assert re.search(r'<div id="messages"[^>]*>\s*<p class="message error">Your password was not changed\. '
                     r"That is not your current password\.<", wrong.text)
    assert re.search(r'<input[^>]* autofocus[^>]* id="current"', wrong.text)
    htmx = {"HX-Request": "true", "X-CSRFToken": ada.csrf}
    refused = ada.client.post("/preferences/password", data={"current": PASSWORD, "password": new, "confirm": "x"},
                              headers=htmx)
    assert refused.status_code == 422 and refused.headers["HX-Retarget"] == "#password-form"
    assert '<form id="password-form"' in refused.text
    assert "The two passwords differ." in refused.text and "<h1" not in refused.text
    assert re.search(r'<input[^>]* autofocus[^>]* id="confirm"', refused.text)
    changed = ada.client.post("/preferences/password", data={"current": PASSWORD, "password": new, "confirm": new},
                              headers=htmx)
    assert changed.status_code == 200 and changed.headers["HX-Redirect"] == "/preferences"
    assert "Your password is changed." in ada.client.get("/preferences").text
    assert ada.client.get("/preferences").status_code == 200  # this browser stays signed in
    assert elsewhere.client.get("/preferences").status_code == 302  # the other one is out
    assert Actions(app.test_client()).sign_in("ada@example.com", new).status_code == 302


def test_the_audit_trail_is_newest_first_paginated_and_secret_free(app, team):
    ada = team["ada"]
    for n in range(service.AUDIT_PAGE_SIZE):
        ada.generate(f"bulk {n}")
    first = ada.client.get("/audit").text
    assert first.count("created a token") == service.AUDIT_PAGE_SIZE  # the newest 50 events, all Ada's
    times = re.findall(r'<time datetime="([^"]+)"', first)
    assert times == sorted(times, reverse=True) and len(times) == service.AUDIT_PAGE_SIZE
    assert 'href="/audit?page=2"' in first
    for page in ("99999999999999999999", "-3", "x"):
        assert ada.client.get(f"/audit?page={page}").status_code == 200
    second = ada.client.get("/audit?page=2").text
    assert "signed in" in second and 'href="/audit?page=1"' in second
    assert not re.search(r"tok_[0-9A-Za-z]{36}", first + second)
    assert PASSWORD not in first + second


def audit_row(page: str, action: str) -> str:
    """The first row of the Audit trail page with this action, as its text."""
    row = re.search(rf"<tr>(?:(?!</tr>).)*<td data-label=\"What\">{action}</td>.*?</tr>", page, re.S).group(0)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()


def test_failed_sign_ins_are_in_the_trail(app, team):
    Actions(app.test_client()).sign_in("bob@example.com", "wrong password")
    page = team["ada"].client.get("/audit").text
    row = audit_row(page, "failed to sign in")
    assert row.startswith(tuple(f"{year}-" for year in range(2026, 2100))) and " UTC — failed to sign in " in row
    assert "Bob bob@example.com" in row and row.endswith("127.0.0.1")


def test_token_events_name_the_token_as_its_list_shows_it_even_once_deleted(app, team):
    ada = team["ada"]
    ada.generate("CI deploy", scope="read", expires="date", expires_on="2030-06-30")
    with app.app_context():
        token = db.session.scalar(select(ApiToken).filter_by(name="CI deploy"))
        public, hint = token.public_id, token.hint
    assert '">2030-06-30 23:59 UTC</time>' in ada.page().text  # its row in the list
    ada.delete(public)
    page = ada.client.get("/audit").text
    said = f"CI deploy · {hint} · read only · expires 2030-06-30 23:59 UTC"  # as the token list writes it
    assert said in audit_row(page, "created a token") and said in audit_row(page, "deleted a token")
    assert public not in page  # an id no page shows


def test_a_token_named_like_markup_reads_as_text_on_the_audit_trail(app, team):
    team["ada"].generate("<i>x</i> tok_…ABCD")
    page = team["ada"].client.get("/audit").text
    # The name reads as typed; each hint in the details is set as code, on one line however narrow the cell.
    assert re.search(r'<td data-label="Details">&lt;i&gt;x&lt;/i&gt; <code>tok_…ABCD</code> · <code>tok_…\w{4}</code>',
                     page) and "<i>" not in page


def test_token_events_kept_without_a_description_name_the_token_while_it_is_there(app, team):
    with app.app_context():
        token = db.session.scalar(select(ApiToken).filter_by(name="dora's token"))
        db.session.execute(update(AuditEvent).where(AuditEvent.subject == token.public_id).values(detail=None))
        db.session.add(AuditEvent(account_id=token.account_id, action="token.deleted", subject="Gone12345678"))
        db.session.commit()
        hint = token.hint
    page = team["ada"].client.get("/audit").text
    assert f"dora's token · {hint} · read and write" in audit_row(page, "created a token").replace("&#39;", "'")
    assert "a token since deleted" in audit_row(page, "deleted a token")


# --- invitations -----------------------------------------------------------------------------

def invite_link(app, who, email="newcomer@example.com", role="member"):
    response = who.client.post("/members/invitations", data={"email": email, "role": role, "csrf_token": who.csrf})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    # The link's expiry, and each pending invitation's, is a time as every other (app.js shows it locally).
    expiries = re.findall(r'expires (<time datetime="[^"]+\+00:00">[^<]+ UTC</time>)?', response.text)
    assert len(expiries) >= 2 and all(expiries)
    return re.search(r'id="invitation-link" type="text" readonly value="http://localhost(/join/[^"]+)"',
                     response.text).group(1)


def join(app, link, name="Newcomer", client=None, password=PASSWORD, confirm=None):
    client = client or app.test_client()
    page = client.get(link)
    if page.status_code != 200:
        return client, page
    return client, client.post(link, data={"display_name": name, "password": password,
                                           "confirm": password if confirm is None else confirm,
                                           "csrf_token": csrf_from(page.text)})


def test_an_invitation_link_is_shown_once_and_joins_once(app, team):
    link = invite_link(app, team["ada"])
    assert link not in team["ada"].client.get("/members").text
    newcomer, joined = join(app, link)
    assert joined.status_code == 302 and joined.headers["Location"] == "/preferences"
    assert "Acme" in newcomer.get("/preferences").text
    _, again = join(app, link, "Mallory")
    assert again.status_code == 400 and "This invitation was already used." in again.text
    with app.app_context():
        assert db.session.scalar(select(Membership).join(Membership.member).filter_by(
            email="newcomer@example.com")).role == "member"


def link_made_at(app, origin):
    """The invitation link an owner, signed in at ``origin``, is shown."""
    owner = Actions(client_at(app, origin))
    assert owner.sign_in().status_code == 302
    response = owner.client.post("/members/invitations", data={
        "email": "newcomer@example.com", "role": "member", "csrf_token": owner.csrf})
    assert response.status_code == 201
    return re.search(r'id="invitation-link" type="text" readonly value="([^"]+)"', response.text).group(1)


def test_an_invitation_link_starts_with_the_public_url_whatever_host_was_asked(published):
    link = link_made_at(published, "http://portal.internal:8000")  # an owner inside, by the internal name
    assert re.fullmatch(rf"{re.escape(PUBLIC_URL)}/join/[^/]+", link)
    page = client_at(published, PUBLIC_URL).get(link.removeprefix(PUBLIC_URL))
    assert page.status_code == 200 and "<h1>Join Acme</h1>" in page.text


def test_no_invitation_is_made_at_a_host_name_not_the_portals(published):
    client = client_at(published, "http://evil.example")
    for refused in (client.get("/signin"), client.post("/members/invitations", data={"email": "new@example.com"})):
        assert refused.status_code == 400 and "This portal does not answer to that host name." in refused.text
    with published.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_without_a_public_url_the_link_names_the_host_asked(app):
    assert re.fullmatch(r"http://portal\.lan:8080/join/[^/]+", link_made_at(app, "http://portal.lan:8080"))


def test_a_member_of_another_account_accepts_with_their_sign_in(app, team):
    link = invite_link(app, team["ada"], "eve@example.com", "admin")
    eve = team["eve"]
    page = eve.client.get(link)
    assert "Accept and join" in page.text
    accepted = eve.client.post(link, data={"csrf_token": csrf_from(page.text)})
    assert accepted.status_code == 302
    switched = eve.client.get("/preferences").text
    # The switcher moved Eve to Acme: the page is Acme's, and the switcher says so.
    assert f'<option value="{app.config["SEED"]["acme"]}" selected>Acme</option>' in switched
    assert f'Account <strong>Acme</strong>, id <code>{app.config["SEED"]["acme"]}</code>' in switched
    # Back to Globex through the switcher: the list and the dialog follow.
    eve.client.post("/accounts/switch", data={"account": app.config["SEED"]["globex"], "csrf_token": eve.csrf})
    assert "eve&#39;s token" in eve.client.get("/preferences").text
    created = eve.generate("in globex")
    assert f"X-Account-Id: {app.config['SEED']['globex']}" in created.text


# Signed out, the link's page is one form for everyone: whether the email already signs in here (perhaps in
# another team's account) shows only once a password is tried, and that try counts as a failed sign-in.
JOIN_HINT = ("Choose a password of at least 12 characters. If you already sign in here with this email, "
             "enter that password instead.")
NOT_ITS_PASSWORD = ("This email already has a sign-in here, and that is not its password. Enter its password, "
                    "or sign in first.")


def as_seen_by_anyone(html, email):
    """The page less what names the person (their email) or the visit (the form's CSRF token)."""
    return html.replace(csrf_from(html), "[csrf]").replace(email, "someone@example.com")


def audit_events(app, action, email):
    with app.app_context():
        return db.session.execute(select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.member_id,
                                         AuditEvent.detail, Account.name).join(Account)
                                  .where(AuditEvent.action == action, AuditEvent.subject == email)
                                  .order_by(AuditEvent.id)).all()


def test_signed_out_the_link_shows_one_form_whether_or_not_the_email_signs_in_here(app, team):
    pages, refusals = [], []
    for email in ("newcomer@example.com", "eve@example.com"):  # Eve signs in here, in Globex
        link = invite_link(app, team["ada"], email)
        client = app.test_client()
        page = client.get(link)
        assert page.status_code == 200
        pages.append(as_seen_by_anyone(page.text, email))
        # A slip the rules catch answers alike too, and costs nothing: the two passwords differ, or a password
        # is too short (even one that might be an old, shorter password of the email).
        _, differ = join(app, link, client=client, confirm="another passphrase")
        assert differ.status_code == 422 and "The two passwords differ." in differ.text
        _, short = join(app, link, client=client, password="too short")
        assert short.status_code == 422 and "Choose a password of at least 12 characters." in short.text
        refusals.append([as_seen_by_anyone(refused.text, email) for refused in (differ, short)])
    assert pages[0] == pages[1] and refusals[0] == refusals[1]
    assert "already has a sign-in" not in pages[1]
    for label in ("Your name", "Password", "Repeat the password"):
        assert f">{label}</label>" in pages[1]
    assert JOIN_HINT in pages[1] and ">Join</button>" in pages[1]
    assert audit_events(app, "member.sign_in_failed", "eve@example.com") == []


def test_a_new_email_joins_with_a_name_and_a_new_password(app, team):
    link = invite_link(app, team["ada"])
    client, short = join(app, link, password="too short")
    assert short.status_code == 422 and "Choose a password of at least 12 characters." in short.text
    assert JOIN_HINT in short.text
    _, joined = join(app, link, "Newcomer", client=client)
    assert joined.status_code == 302 and joined.headers["Location"] == "/preferences"
    assert "Welcome to Acme." in client.get("/preferences").text
    with app.app_context():
        newcomer = service.find_member("newcomer@example.com")
        assert newcomer.display_name == "Newcomer"
        assert [m.account.name for m in newcomer.memberships] == ["Acme"]
        newcomer_id = newcomer.id
    assert audit_events(app, "member.joined", "newcomer@example.com") == [
        ("member.joined", newcomer_id, newcomer_id, "member", "Acme")]


def test_joining_as_a_new_member_is_a_sign_in(app, team):
    _, joined = join(app, invite_link(app, team["ada"]), "Newcomer")
    assert joined.status_code == 302
    ada = team["ada"]
    row = member_row(ada.client.get("/members").text, "newcomer@example.com")
    assert re.search(r'<td data-label="Last sign-in"><time [^>]+>[^<]+UTC</time></td>', row)
    assert "Newcomer newcomer@example.com" in audit_row(ada.client.get("/audit").text, "signed in")


def test_an_existing_member_joins_from_the_link_with_their_own_password(app, team):
    password = PASSWORD
    with app.app_context():
        eve_id = service.find_member("eve@example.com").id
    link = invite_link(app, team["ada"], "eve@example.com", "admin")
    client, joined = join(app, link, "Mallory", password=password)
    assert joined.status_code == 302 and joined.headers["Location"] == "/preferences"
    page = client.get("/preferences").text
    assert ("You already had a sign-in here, so Acme was added to it. Your name and password are unchanged."
            in page)
    assert f'<option value="{app.config["SEED"]["acme"]}" selected>Acme</option>' in page  # signed in, in Acme
    assert client.get_cookie("portal-device") is not None  # this browser now vouches for Eve, as sign-in's does
    with app.app_context():
        eve = service.find_member("eve@example.com")
        assert eve.display_name == "Eve"  # the name typed on the form is not hers to change here
        assert {m.account.name: m.role for m in eve.memberships} == {"Globex": "owner", "Acme": "admin"}
    assert audit_events(app, "member.joined", "eve@example.com") == [
        ("member.joined", eve_id, eve_id, "admin", "Acme")]
    signed_in = audit_events(app, "member.signed_in", "eve@example.com")
    assert ("member.signed_in", eve_id, eve_id, None, "Acme") in signed_in
    assert Actions(app.test_client()).sign_in("eve@example.com", password).status_code == 302


def test_a_member_whose_password_predates_the_rules_signs_in_first_then_accepts(app, team):
    with app.app_context():
        service.find_member("eve@example.com").password_hash = hash_password("old pass")  # 8 characters
        db.session.commit()
    link = invite_link(app, team["ada"], "eve@example.com", "admin")
    client, refused = join(app, link, "Eve", password="old pass")  # refused by rule, as for any email
    assert refused.status_code == 422 and "Choose a password of at least 12 characters." in refused.text
    assert audit_events(app, "member.sign_in_failed", "eve@example.com") == []
    eve = Actions(client)
    assert eve.sign_in("eve@example.com", "old pass").status_code == 302
    accepted = client.post(link, data={"csrf_token": csrf_from(client.get(link).text)})
    assert accepted.status_code == 302 and membership_id(app, "eve@example.com") is not None


def test_joining_as_a_new_member_makes_the_browser_known(app, team):
    client, joined = join(app, invite_link(app, team["ada"]))
    assert joined.status_code == 302 and client.get_cookie("portal-device") is not None


def test_a_wrong_password_for_an_email_that_signs_in_here_is_a_failed_sign_in(app, team):
    link = invite_link(app, team["ada"], "eve@example.com")
    client, refused = join(app, link, "Eve", password="not the password of Eve")
    assert refused.status_code == 422 and NOT_ITS_PASSWORD in refused.text
    assert client.get("/preferences").status_code == 302  # not signed in
    assert membership_id(app, "eve@example.com") is None
    assert [event[-1] for event in audit_events(app, "member.sign_in_failed", "eve@example.com")] == ["Globex"]
    _, joined = join(app, link, "Eve", client=client)  # the link still works, with her password
    assert joined.status_code == 302 and membership_id(app, "eve@example.com") is not None


def test_a_deactivated_member_cannot_join_from_the_link(app, team, runner):
    with app.app_context():
        service.add_member(service.find_account(app.config["SEED"]["globex"]), "fay@example.com", "Fay", PASSWORD)
        db.session.commit()
    assert runner.invoke(args=["deactivate", "fay@example.com"]).exit_code == 0
    link = invite_link(app, team["ada"], "fay@example.com")
    client, refused = join(app, link, "Fay again", password=PASSWORD)
    assert refused.status_code == 422 and NOT_ITS_PASSWORD in refused.text
    assert client.get("/preferences").status_code == 302
    assert membership_id(app, "fay@example.com") is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member).filter_by(email="fay@example.com")) == 1
        assert service.find_member("fay@example.com").active is False


def test_an_invitation_for_someone_else_is_refused_to_a_signed_in_member(app, team):
    link = invite_link(app, team["ada"], "zed@example.com")
    eve = team["eve"]
    page = eve.client.get(link)
    refused = eve.client.post(link, data={"csrf_token": csrf_from(page.text)})
    assert refused.status_code == 403 and "This invitation is for zed@example.com" in refused.text


def test_tampered_revoked_expired_and_wrong_purpose_links_are_refused(app, team):
    ada = team["ada"]
    link = invite_link(app, ada)
    tampered = link[:-3] + ("AAA" if link[-3:] != "AAA" else "BBB")
    page = app.test_client().get(tampered)
    assert page.status_code == 400 and "This link cannot be used" in page.text and "not valid" in page.text
    with app.app_context():
        public = db.session.scalar(select(Invitation.public_id))
        wrong_purpose = service.links.sign("password reset", public)
    refused = app.test_client().get(f"/join/{wrong_purpose}")
    assert refused.status_code == 400 and "not valid" in refused.text
    assert ada.client.post(f"/members/invitations/{public}/revoke", data={"csrf_token": ada.csrf}).status_code == 302
    revoked = app.test_client().get(link)
    assert revoked.status_code == 400 and "revoked" in revoked.text


def test_an_expired_invitation_is_refused(app, team):
    with app.app_context(), freeze_time(utcnow() - timedelta(days=7, minutes=1)):
        owner = db.session.get(Membership, membership_id(app, "ada@example.com"))
        _, link_token = service.invite(owner, "late@example.com", "member")
        db.session.commit()
    expired = app.test_client().get(f"/join/{link_token}")
    assert expired.status_code == 400 and "expired" in expired.text
    _, joined = join(app, f"/join/{link_token}")
    assert joined.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Membership).join(Membership.member).filter_by(
            email="late@example.com")) == 0


def test_inviting_again_while_an_invitation_is_pending_keeps_its_link(app, team):
    """A reload of the page showing the link posts the form again: the link just shown must keep working."""
    ada = team["ada"]
    link = invite_link(app, ada, "eve@example.com", "admin")
    for role in ("admin", "member"):
        again = ada.client.post("/members/invitations", data={
            "email": "eve@example.com", "role": role, "csrf_token": ada.csrf})
        assert again.status_code == 422 and 'id="invitation-link"' not in again.text
        assert "eve@example.com is already invited (as admin) and the link sent stays valid." in again.text
        assert "revoke that invitation under Pending invitations first" in again.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1
    page = app.test_client().get(link)
    assert page.status_code == 200 and "revoked" not in page.text


def test_inviting_a_member_already_there_is_explained(app, team):
    response = team["ada"].client.post("/members/invitations", data={
        "email": "BOB@example.com", "role": "member", "csrf_token": team["ada"].csrf})
    assert response.status_code == 422 and "bob@example.com is already a member of this account." in response.text


# --- reset links -----------------------------------------------------------------------------

def test_a_reset_link_sets_a_password_once(app, team, runner):
    printed = runner.invoke(args=["reset-password", "bob@example.com"]).output
    link = re.search(r"http://127.0.0.1:5000(/reset/\S+)", printed).group(1)
    client = app.test_client()
    page = client.get(link)
    new = "reset passphrase for bob"
    done = client.post(link, data={"password": new, "confirm": new, "csrf_token": csrf_from(page.text)})
    assert done.status_code == 302
    assert team["bob"].client.get("/preferences").status_code == 302  # his old session ended
    assert Actions(app.test_client()).sign_in("bob@example.com", new).status_code == 302
    again = app.test_client().get(link)
    assert again.status_code == 400 and "already used" in again.text


# --- what reviewers tried -------------------------------------------------------------------

def test_two_owners_demoting_themselves_at_once_leave_one_owner(app, team):
    with app.app_context():
        carl = db.session.get(Membership, membership_id(app, "carl@example.com"))
        carl.role = "owner"
        db.session.commit()
    barrier = threading.Barrier(2)
    outcomes = []

    def demote_self(email):
        with app.app_context():
            own = db.session.get(Membership, membership_id(app, email))
            barrier.wait()
            try:
                service.change_role(own, own.id, "admin")
                db.session.commit()
                outcomes.append("demoted")
            except service.InvalidInput:
                db.session.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=demote_self, args=(email,)) for email in ("ada@example.com", "carl@example.com")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    with app.app_context():
        owners = select(func.count()).select_from(Membership).filter_by(role="owner").where(
            Membership.account.has(public_id=app.config["SEED"]["acme"]))
        assert db.session.scalar(owners) == 1


def test_a_deactivated_owner_does_not_count(app, team, runner):
    carl = membership_id(app, "carl@example.com")
    assert set_role(team["ada"], carl, "owner").status_code == 200
    assert runner.invoke(args=["deactivate", "carl@example.com"]).exit_code == 0
    refused = set_role(team["ada"], membership_id(app, "ada@example.com"), "admin")
    assert refused.status_code == 422 and "at least one owner" in refused.text
    last = runner.invoke(args=["deactivate", "ada@example.com"])
    assert last.exit_code == 1 and "last active owner" in last.output
    # Taking the owner role from the deactivated one leaves the active owner: that is allowed.
    demoted = set_role(team["ada"], carl, "member")
    assert demoted.status_code == 200 and '<option value="member" selected>' in demoted.text
    with app.app_context():
        assert db.session.get(Membership, carl).role == "member"


def test_demoting_oneself_leaves_the_members_page(app, team):
    carl = team["carl"]
    response = set_role(carl, membership_id(app, "carl@example.com"), "member")
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/preferences"
    assert carl.client.get("/members").status_code == 403


def test_a_second_invitation_for_someone_already_joined_is_refused_clearly(app, team):
    first = invite_link(app, team["ada"])
    with app.app_context():
        public = db.session.scalar(select(Invitation.public_id))
    team["ada"].client.post(f"/members/invitations/{public}/revoke", data={"csrf_token": team["ada"].csrf})
    second = invite_link(app, team["carl"])  # a new link, once the first one is revoked
    _, used_first = join(app, first)
    assert used_first.status_code == 400 and "revoked" in used_first.text
    newcomer, joined = join(app, second)
    assert joined.status_code == 302
    # An invitation made before the newcomer joined, used afterwards while signed in: a clear refusal.
    with app.app_context():
        pending = Invitation(account_id=db.session.get(Membership, membership_id(app, "ada@example.com")).account_id,
                             email="newcomer@example.com", role="admin", expires_at=utcnow() + timedelta(days=1))
        db.session.add(pending)
        db.session.commit()
        late_link = f"/join/{service.links.sign('invitation', pending.public_id)}"
    page = newcomer.get(late_link)
    refused = newcomer.post(late_link, data={"csrf_token": csrf_from(page.text)})
    assert refused.status_code == 400 and "You are already a member of this account." in refused.text


@pytest.mark.parametrize("path", ["/preferences?member=99999999999999999999", "/members/99999999999999999999/remove",
                                  "/preferences?member=-1", "/members/0/remove"])
def test_ids_beyond_the_databases_integers_are_harmless(app, team, path):
    response = team["ada"].client.get(path)
    expected = 404 if path.startswith("/members") else 200  # a filter that cannot match shows everyone's
    assert response.status_code == expected


def test_a_token_is_refused_once_its_member_left_the_account(app, team, client):
    bob = headers_of(login(app.test_client(), "bob@example.com"))
    with app.app_context():
        db.session.execute(Membership.__table__.delete().where(Membership.id == membership_id(app, "bob@example.com")))
        db.session.commit()
    assert client.get(f"{API}/tokens/self", headers=bob).status_code == 401
