"""Account Preferences through Flask's test client: pages, fragments, headers and rows."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tokens.extensions import db
from tokens.models import ApiToken, AuditEvent, utcnow

from .conftest import HIDDEN_NAMES, Actions, make_app, seed, triggered_notice

TOKEN_PATTERN = re.compile(r"tok_[0-9A-Za-z]{36}")


def rows(app, **filters):
    with app.app_context():
        return list(db.session.scalars(select(ApiToken).filter_by(**filters).order_by(ApiToken.id)))


def count(app, model=ApiToken):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_page_shows_the_api_token_section_with_an_empty_state(member, app):
    response = member.page()
    assert response.status_code == 200
    assert "<h2 id=\"api-token-title\">API tokens</h2>" in response.text
    assert "Generate new token" in response.text
    # A token expires in 30 days unless chosen otherwise; "Never" comes with a warning (CSS shows it while chosen).
    assert '<option selected value="30">In 30 days</option>' in response.text
    warning = "A token that never expires stays valid until someone deletes it."
    assert f'<p class="never-warning">{warning}</p>' in response.text
    assert "There are no API tokens in this account yet." in response.text  # Ada owns the account
    assert app.config["SEED"]["acme"] in response.text


def test_generate_with_htmx_answers_the_dialog_and_the_row(member, app):
    response = member.generate("CI deploy")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]
    html = response.text
    assert "<html" not in html  # a fragment, not a page
    secret = TOKEN_PATTERN.search(html).group(0)
    assert html.count(secret) == 2  # the token field and the headers snippet
    assert f"X-Account-Id: {app.config['SEED']['acme']}\nX-Auth-Token: {secret}" in html
    assert "shown only this once" in html
    # The snippet's formats, named once (tokens/labels.py) for the chooser and the snippet's label.
    assert '<label for="snippet-format">Copy as:</label>' in html
    chooser = re.search(r'<select id="snippet-format">.*?</select>', html).group(0)
    assert re.findall(r">([^<]+)</option>", chooser) == ["request headers", ".env lines", "curl command"]
    assert '<label for="new-headers">Both (<span>request headers</span>)</label>' in html
    assert html.index("<dialog") < html.index('<hx-partial hx-target="#token-rows" hx-swap="afterbegin">')
    [token] = rows(app)
    assert f'<tr class="token-row" id="token-{token.public_id}">' in html
    assert token.name == "CI deploy" and token.created_via == "web" and token.scope == "read-write"
    assert timedelta(days=29, hours=23) < token.expires_at - utcnow() <= timedelta(days=30)  # the form's default
    assert token.hint == f"tok_…{secret[-4:]}"
    assert secret not in {token.digest, token.hint, token.name, token.request_nonce}
    # A fresh form (new nonce) replaces the old one, so the next Generate makes a new token.
    assert '<hx-partial hx-target="#generate-form" hx-swap="outerHTML">' in html


def test_the_secret_is_never_shown_again(member):
    secret = TOKEN_PATTERN.search(member.generate("once").text).group(0)
    page = member.page().text
    assert secret not in page
    assert secret[-4:] in page  # only the hint
    assert "<dialog" not in page


def test_list_shows_date_and_time_left_delete_right_newest_first(member, app):
    for name in ("first", "second", "third"):
        assert member.generate(name).status_code == 201
    html = member.page().text
    assert re.findall(r'<td class="name"[^>]*>([^<]*)', html) == ["third", "second", "first"]
    row = re.search(r'<tr class="token-row".*?</tr>', html, re.S).group(0)
    cells = re.findall(r"<td.*?</td>", row, re.S)
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:.]+\+00:00">'
                     r"\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", cells[0])
    assert "Delete" in cells[-1] and "Delete" not in "".join(cells[:-1])
    token_id = rows(app)[-1].public_id  # the newest, on top
    assert f'hx-delete="/preferences/tokens/{token_id}"' in cells[-1]
    assert f'action="/preferences/tokens/{token_id}/delete"' in cells[-1]


def test_generate_without_javascript_renders_the_page_with_the_dialog_open(member, app):
    response = member.generate("plain", htmx=False)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert "<html" in response.text and "<dialog" in response.text and " open" in response.text
    [token] = rows(app)
    secret = TOKEN_PATTERN.search(response.text).group(0)
    assert token.hint == f"tok_…{secret[-4:]}"
    assert f'<tr class="token-row" id="token-{token.public_id}">' in response.text


def test_a_second_submission_of_one_form_makes_no_second_token(member, app):
    nonce = member.nonce()
    first = member.generate("double", nonce=nonce)
    second = member.generate("double", nonce=nonce)
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.headers["HX-Reswap"] == "none"  # the dialog of the first stays on screen
    assert TOKEN_PATTERN.search(second.text) is None
    assert "already generated" in second.text
    # A fresh form (another nonce) comes along, so that a lost first answer does not jam the button.
    fresh = re.search(r'name="nonce" type="hidden" value="([^"]+)"', second.text).group(1)
    assert fresh != nonce
    assert len(rows(app)) == 1
    plain = member.generate("double", nonce=nonce, htmx=False)
    assert plain.status_code == 409 and TOKEN_PATTERN.search(plain.text) is None
    assert len(rows(app)) == 1


def test_the_limit_is_explained(member, app):
    app.config["TOKENS_PER_MEMBER"] = 2
    assert member.generate().status_code == 201
    assert member.generate().status_code == 201
    refused = member.generate()
    assert refused.status_code == 422
    assert refused.headers["HX-Retarget"] == "#generate-form"
    assert "the most allowed is 2" in refused.text
    assert TOKEN_PATTERN.search(refused.text) is None
    assert len(rows(app)) == 2


def test_an_empty_name_gets_a_default(member, app):
    member.generate("   ")
    assert rows(app)[0].name == "Web token"


@pytest.mark.parametrize("name, message", [
    ("x" * 10_000, "too long: 100 characters at most"),
    ("bell\x07", "control characters"),
    ("zero\u200bwidth", "control characters"),
    ("line\nbreak", "control characters"),
])
def test_bad_names_get_a_clear_inline_error(member, app, name, message):
    for htmx in (True, False):
        response = member.generate(name, htmx=htmx)
        assert response.status_code == 422
        assert message in response.text
        assert 'aria-invalid="true"' in response.text
    assert rows(app) == []


def test_names_with_hidden_characters_get_the_same_inline_error(member, app):
    for what, name in HIDDEN_NAMES.items():
        response = member.generate(name)
        assert response.status_code == 422, what
        assert "contains invisible control characters; remove them." in response.text, what
    assert rows(app) == []
    assert member.generate("Zoe\u0308 🏳\ufe0f\u200d🌈").status_code == 201
    assert rows(app)[0].name == "Zoë 🏳\ufe0f\u200d🌈"


def test_names_are_stored_as_typed_and_rendered_escaped(member, app):
    name = '<script>alert("x")</script> & “quotes”'
    created = member.generate(name)
    assert created.status_code == 201
    assert rows(app)[0].name == name
    for html in (created.text, member.page().text):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; “quotes”" in html


def test_generate_and_delete_answer_with_small_fragments_never_the_page(member, app):
    generated = member.generate("deploy")
    # The dialog, the new row (its cells labelled for phones) and a fresh form: about 4 KB.
    assert generated.status_code == 201 and len(generated.data) < 5 * 1024
    assert "<html" not in generated.text and 'id="token-rows"' not in generated.text
    [token] = rows(app)
    deleted = member.delete(token.public_id)
    assert deleted.status_code == 200 and len(deleted.data) < 100


def test_delete_with_htmx_empties_the_row_and_says_so(member, app):
    member.generate("doomed")
    [token] = rows(app)
    response = member.delete(token.public_id)
    assert response.status_code == 200 and triggered_notice(response).startswith("The token was deleted")
    assert rows(app) == []
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["member.signed_in", "token.created", "token.deleted"]


def test_deleting_a_token_already_gone_removes_the_row_and_says_so(member, app):
    member.generate("twice")
    [token] = rows(app)
    assert member.delete(token.public_id).status_code == 200
    again = member.delete(token.public_id)
    assert again.status_code == 200 and "already been deleted" in triggered_notice(again)
    assert "HX-Reswap" not in again.headers


def test_delete_without_javascript_confirms_then_redirects(member, app):
    member.generate("plain delete")
    [token] = rows(app)
    confirm = member.client.get(f"/preferences/tokens/{token.public_id}/delete")
    assert confirm.status_code == 200
    assert "Delete the token “plain delete”?" in confirm.text
    assert len(rows(app)) == 1  # asking deletes nothing
    response = member.delete(token.public_id, htmx=False)
    assert response.status_code == 302 and response.headers["Location"] == "/preferences"
    assert "The token was deleted" in member.client.get("/preferences").text
    assert rows(app) == []


@pytest.fixture
def other_tokens(app):
    """Tokens of Ada (Bob's account, one she deleted herself) and of Eve (another account)."""
    ids = {}
    for who in ("ada", "eve"):
        actions = Actions(app.test_client())
        actions.sign_in(f"{who}@example.com")
        actions.generate(f"{who}'s")
        ids[who] = rows(app, name=f"{who}'s")[0].public_id
        if who == "ada":
            actions.generate("deleted by ada")
            ids["ada, deleted"] = rows(app, name="deleted by ada")[0].public_id
            assert actions.delete(ids["ada, deleted"]).status_code == 200
    return ids


@pytest.fixture
def bob(app):
    """Bob, a plain member of Ada's account, signed in."""
    actions = Actions(app.test_client())
    assert actions.sign_in("bob@example.com").status_code == 302
    return actions


@pytest.mark.parametrize("whose", ["ada", "ada, deleted", "eve", "missing", "malformed", "nul"])
def test_tokens_not_yours_are_404_and_stay(bob, app, other_tokens, whose):
    member = bob
    token_id = {"missing": "AAAAAAAAAAAA", "malformed": "%3Cscript%3E'--",
                "nul": "AAAAA%00AAAAAA"}.get(whose) or other_tokens[whose]
    before = count(app)
    htmx = member.delete(token_id)
    assert htmx.status_code == 404
    assert htmx.headers["HX-Reswap"] == "none"  # the row is left where it is
    assert "There is no such token in your list." in htmx.text
    assert member.delete(token_id, htmx=False).status_code == 404
    assert member.client.get(f"/preferences/tokens/{token_id}/delete").status_code == 404
    assert count(app) == before
    page = member.page().text
    assert "ada&#39;s" not in page and "eve&#39;s" not in page


@pytest.mark.parametrize("csrf", ["missing", "wrong"])
def test_state_changes_without_the_csrf_token_change_nothing(member, app, csrf):
    member.generate("kept")
    [token] = rows(app)
    if csrf == "wrong":
        member.csrf = "IjBhZDRmYjU1ZjI3ZDY4NjY1NzEzNjI5MzY3MjAwMzc0OWI0YmQ4NjEi.bad.bad"
        attempts = [member.generate("nope"), member.generate("nope", htmx=False),
                    member.delete(token.public_id), member.delete(token.public_id, htmx=False)]
    else:
        attempts = [member.generate("nope", csrf=False), member.generate("nope", htmx=False, csrf=False),
                    member.delete(token.public_id, csrf=False),
                    member.delete(token.public_id, htmx=False, csrf=False)]
    for response in attempts:
        assert response.status_code == 400
        assert "nothing was changed" in response.text
    assert [t.name for t in rows(app)] == ["kept"]


REFUSED = "This request came from another site, so nothing was changed."
ELSEWHERE = {
    "cross-site": {"Sec-Fetch-Site": "cross-site"},
    "same-site": {"Sec-Fetch-Site": "same-site"},
    "another origin": {"Origin": "https://evil.example"},
    "an opaque origin": {"Origin": "null"},
    "cross-site, whatever Origin says": {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
}


def changes(member, token_id, headers):
    """Generate and delete, with and without htmx, and sign out, each with a valid CSRF token and ``headers``."""
    htmx = {**headers, "HX-Request": "true", "X-CSRFToken": member.csrf}
    form = {"csrf_token": member.csrf}
    return [
        member.client.post("/preferences/tokens", data={"name": "new", "nonce": member.nonce(), **form},
                           headers=headers),
        member.client.post("/preferences/tokens", data={"name": "new", "nonce": member.nonce()}, headers=htmx),
        member.client.post(f"/preferences/tokens/{token_id}/delete", data=form, headers=headers),
        member.client.delete(f"/preferences/tokens/{token_id}", headers=htmx),
        member.client.post("/signout", data=form, headers=headers),
    ]


@pytest.mark.parametrize("where", ELSEWHERE)
def test_changes_another_site_asks_for_are_refused_and_change_nothing(member, app, where):
    member.generate("kept")
    [token] = rows(app)
    attempts = changes(member, token.public_id, ELSEWHERE[where])
    for response in attempts:
        assert response.status_code == 403
        assert REFUSED in response.text
    assert attempts[1].headers["HX-Reswap"] == "none"  # htmx shows why and leaves the page as it was
    assert "<h1>Forbidden</h1>" in attempts[0].text  # a plain form gets the designed error page
    assert [t.name for t in rows(app)] == ["kept"]
    assert member.page().status_code == 200  # still signed in


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}, {"Origin": "http://localhost"},
], ids=["same-origin", "none (typed or bookmarked)", "neither header (old browsers, curl)", "this origin"])
def test_changes_from_the_portal_itself_are_answered_as_ever(member, app, headers):
    member.generate("kept")
    [token] = rows(app)
    plain, htmx, deleted, deleted_again, signed_out = changes(member, token.public_id, headers)
    assert [plain.status_code, htmx.status_code] == [201, 201]
    assert deleted.status_code == 302 and deleted_again.status_code == 200
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/signin"
    assert [t.name for t in rows(app)] == ["new", "new"]


def test_the_served_origin_is_the_one_the_proxy_names(tmp_path):
    app = make_app(tmp_path / "proxied.sqlite3", PROXIES=1)
    seed(app)
    member = Actions(app.test_client())
    member.sign_in()
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tokens.example.com",
               "Referer": "https://tokens.example.com/preferences"}  # Flask-WTF asks HTTPS posts for one
    inner = member.client.post("/preferences/tokens", data={
        "nonce": member.nonce(), "csrf_token": member.csrf}, headers={**proxied, "Origin": "http://localhost"})
    assert inner.status_code == 403 and rows(app) == []
    served = member.client.post("/preferences/tokens", data={
        "nonce": member.nonce(), "csrf_token": member.csrf}, headers={**proxied, "Origin": "https://tokens.example.com"})
    assert served.status_code == 201 and len(rows(app)) == 1


def test_security_headers_on_every_page(client, member):
    for response in (client.get("/signin"), member.page()):
        headers = response.headers
        assert headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script_or_handlers(member):
    member.generate("x")
    for html in (member.page().text, member.generate("y", htmx=False).text):
        tags = re.findall(r"<[a-z][^>]*>", html)
        assert [tag for tag in tags if tag.startswith("<script") and " src=" not in tag] == []
        assert [tag for tag in tags if re.search(r"\son[a-z]+=", tag)] == []


def test_scope_and_expiry_are_chosen_and_shown(member, app):
    response = member.generate("reader", scope="read", expires="7")
    assert response.status_code == 201
    [token] = rows(app)
    assert token.scope == "read"
    assert timedelta(days=6, hours=23) < token.expires_at - utcnow() <= timedelta(days=7)
    row = re.search(r'<tr class="token-row".*?</tr>', member.page().text, re.S).group(0)
    assert "Read only" in row and token.expires_at.strftime("%Y-%m-%d") in row and "Never used" in row
    assert member.generate("forever", expires="never").status_code == 201
    assert rows(app, name="forever")[0].expires_at is None
    assert '<td data-label="Expires">Never</td>' in member.page().text


def test_an_expiry_date_ends_with_that_day(member, app):
    day = (utcnow() + timedelta(days=40)).date()
    assert member.generate("dated", expires="date", expires_on=day.isoformat()).status_code == 201
    assert rows(app)[0].expires_at.strftime("%Y-%m-%d %H:%M") == f"{day.isoformat()} 23:59"


@pytest.mark.parametrize("fields, message", [
    ({"expires": "date"}, "Choose the date the token expires on."),
    ({"expires": "date", "expires_on": "2001-01-01"}, "must be in the future"),
    ({"expires": "date", "expires_on": "2999-01-01"}, "within five years"),
    ({"expires": "date", "expires_on": "not a date"}, "Not a valid date value."),
    ({"expires": "365"}, "Not a valid choice."),
    ({"scope": "admin"}, "Not a valid choice."),
])
def test_bad_scope_or_expiry_gets_a_clear_inline_error(member, app, fields, message):
    response = member.generate("x", **fields)
    assert response.status_code == 422 and message in response.text
    assert rows(app) == []


def test_expired_tokens_are_marked_and_last_use_is_shown(member, app, client):
    member.generate("old")
    member.generate("used")
    old, used = rows(app)
    with app.app_context():
        db.session.execute(ApiToken.__table__.update().where(ApiToken.id == old.id).values(
            expires_at=utcnow() - timedelta(days=1)))
        db.session.execute(ApiToken.__table__.update().where(ApiToken.id == used.id).values(
            last_used_at=utcnow(), last_used_ip="198.51.100.4"))
        db.session.commit()
    html = member.page().text
    old_row = re.search(rf'<tr class="token-row expired" id="token-{old.public_id}">.*?</tr>', html, re.S).group(0)
    assert "Expired" in old_row
    used_row = re.search(rf'<tr class="token-row" id="token-{used.public_id}">.*?</tr>', html, re.S).group(0)
    assert "from 198.51.100.4" in used_row
    # How it was made shows under its name, not beside the hint.
    assert '<td class="name" data-label="Name">used<small class="origin">made on the web</small></td>' in used_row


def test_the_page_costs_the_same_queries_whatever_the_inventory(app, member, statements):
    """An owner's page: a constant number of queries for 2 tokens of 2 members or 24 of 3."""
    from tokens import service
    from tokens.models import Membership

    def queries_for_page():
        with statements() as seen:
            assert member.page().status_code == 200
        return len(seen)

    def add_tokens(email, count):
        with app.app_context():
            owner = db.session.scalar(select(Membership).join(Membership.member).filter_by(email=email))
            for n in range(count):
                service.issue_token(owner, f"{email} {n}")
            db.session.commit()

    add_tokens("ada@example.com", 1)
    add_tokens("bob@example.com", 1)
    few = queries_for_page()
    add_tokens("ada@example.com", 10)
    add_tokens("bob@example.com", 12)
    with app.app_context():
        acme = service.find_account(app.config["SEED"]["acme"])
        service.add_member(acme, "cy@example.com", "Cy", "a long enough password", "member")
        db.session.commit()
    add_tokens("cy@example.com", 1)
    assert queries_for_page() == few


def test_an_owner_filters_the_inventory_by_member(app, member):
    bob = Actions(app.test_client())
    bob.sign_in("bob@example.com")
    bob.generate("bob's job")
    member.generate("ada's job")
    with app.app_context():
        from tokens.models import Member
        bob_id = db.session.scalar(select(Member.id).filter_by(email="bob@example.com"))
    page = member.page().text
    assert f'<option value="{bob_id}">Bob (bob@example.com)</option>' in page
    names = re.findall(r'<td class="name"[^>]*>([^<]*)', page)
    assert names == ["ada&#39;s job", "bob&#39;s job"]  # newest first
    filtered = member.client.get(f"/preferences?member={bob_id}").text
    assert re.findall(r'<td class="name"[^>]*>([^<]*)', filtered) == ["bob&#39;s job"]
    assert f'<option value="{bob_id}" selected>Bob (bob@example.com)</option>' in filtered
    # An owner alone in the account has no one to filter by.
    eve = Actions(app.test_client())
    eve.sign_in("eve@example.com")
    assert "Tokens of" not in eve.page().text
