"""Signing in and out, and what a signed-out visitor meets."""

import pytest
from sqlalchemy import select

from tokens import service
from tokens.extensions import db
from tokens.models import ApiToken, Member, Membership

from .conftest import PASSWORD, Actions, csrf_from


def test_sign_in_leads_to_preferences(client):
    response = Actions(client).sign_in()
    assert response.status_code == 302 and response.headers["Location"] == "/preferences"
    page = client.get("/preferences").text
    assert "Account Preferences" in page and "Ada" in page


@pytest.mark.parametrize("email, password", [
    ("ada@example.com", "wrong password"),
    ("nobody@example.com", PASSWORD),
    ("", ""),
    ("ada@example.com", "x" * 2000),
])
def test_bad_credentials_get_a_clear_message(client, email, password):
    response = Actions(client).sign_in(email, password)
    assert response.status_code == 422
    # Who can help is said where a member finds out they cannot sign in.
    assert ("Forgot your password? Ask whoever runs this portal for a link to set a new one: they make it with "
            "<code>flask reset-password</code> and your email.") in " ".join(response.text.split())
    assert ("That email and password do not match an active member." in response.text
            or "This field is required." in response.text
            or "Field cannot be longer" in response.text)
    assert client.get("/preferences").status_code == 302


def test_sign_in_is_case_insensitive_on_the_email(client):
    assert Actions(client).sign_in("  ADA@Example.com ").status_code == 302


def test_sign_in_without_csrf_is_refused(client):
    client.get("/signin")  # a session exists, so the refusal is the CSRF check's
    response = client.post("/signin", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "nothing was changed" in response.text
    assert client.get("/preferences").status_code == 302


def test_a_nul_byte_in_the_email_is_just_a_failed_sign_in(client):
    assert Actions(client).sign_in("ada\x00@example.com").status_code == 422


@pytest.mark.parametrize("next_url, landing", [
    ("/preferences", "/preferences"),
    ("https://evil.example/", "/preferences"),
    ("//evil.example/", "/preferences"),
    ("/\\evil.example", "/preferences"),
])
def test_next_only_leads_within_the_portal(client, next_url, landing):
    page = client.get("/signin")
    response = client.post("/signin", query_string={"next": next_url}, data={
        "email": "ada@example.com", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert response.headers["Location"] == landing


def test_sign_out_ends_the_session_even_for_a_copied_cookie(member, client, app):
    copied = client.get_cookie("session").value
    elsewhere = app.test_client()  # another browser of the same member
    Actions(elsewhere).sign_in()
    response = client.post("/signout", data={"csrf_token": member.csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/signin"
    assert client.get("/preferences").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get("/preferences").status_code == 302
    assert elsewhere.get("/preferences").status_code == 302
    assert Actions(app.test_client()).sign_in().status_code == 302  # signing in again works


def test_sign_out_needs_csrf(member, client):
    assert client.post("/signout").status_code == 400
    assert client.get("/preferences").status_code == 200


@pytest.mark.parametrize("method, path, comes_back_to", [
    ("get", "/preferences", "/preferences"),
    ("get", "/preferences/tokens/AAAAAAAAAAAA/delete", "/preferences/tokens/AAAAAAAAAAAA/delete"),
    ("post", "/preferences/tokens", "/preferences"),
    ("delete", "/preferences/tokens/AAAAAAAAAAAA", "/preferences"),
    ("post", "/preferences/tokens/AAAAAAAAAAAA/delete", "/preferences"),
])
def test_signed_out_requests_are_sent_to_sign_in(client, method, path, comes_back_to):
    response = getattr(client, method)(path, headers={"Referer": "http://localhost/preferences"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/signin?next={comes_back_to}"


@pytest.mark.parametrize("header", ["Referer", "HX-Current-URL"])
def test_malformed_headers_of_a_signed_out_request_are_harmless(client, header):
    htmx = {"HX-Request": "true"} if header == "HX-Current-URL" else {}
    response = client.post("/preferences/tokens", headers={header: "http://[::1/", **htmx})
    assert response.status_code == (401 if htmx else 302)
    assert (response.headers.get("HX-Redirect") or response.headers["Location"]) == "/signin"


def test_a_signed_out_htmx_request_navigates_to_sign_in(member, client):
    # Signed out in another tab: the session (and its CSRF token) outlive the sign-in.
    with client.session_transaction() as session:
        session.pop("_user_id")
    response = client.delete("/preferences/tokens/AAAAAAAAAAAA",
                             headers={"HX-Request": "true", "X-CSRFToken": member.csrf,
                                      "HX-Current-URL": "http://localhost/preferences"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/signin?next=/preferences"
    assert response.text == ""  # nothing to swap into the row


def test_an_htmx_request_without_a_session_also_navigates_to_sign_in(client):
    response = client.post("/preferences/tokens", headers={"HX-Request": "true", "X-CSRFToken": "x"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/signin")


def test_a_tampered_session_cookie_is_treated_as_signed_out(member, client):
    cookie = client.get_cookie("session")
    value = cookie.value
    tampered = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    client.set_cookie("session", tampered)
    response = client.get("/preferences")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_session_cookie_flags(client):
    response = Actions(client).sign_in()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; HTTPS=true sets it


def test_https_setting_makes_cookies_secure(tmp_path):
    from .conftest import make_app, seed
    app = make_app(tmp_path / "https.sqlite3", HTTPS=True)
    seed(app)
    response = Actions(app.test_client()).sign_in()
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_deactivated_member_is_signed_out_and_cannot_sign_in(member, app, client):
    with app.app_context():
        db.session.get(Member, app.config["SEED"]["ada_id"]).active = False
        db.session.commit()
    assert client.get("/preferences").status_code == 302
    assert Actions(app.test_client()).sign_in().status_code == 422


def test_home_leads_where_a_visitor_can_start(client, member):
    assert client.get("/").headers["Location"] == "/preferences"
    client.post("/signout", data={"csrf_token": member.csrf})
    assert client.get("/").headers["Location"] == "/signin"


def test_a_signed_in_member_visiting_sign_in_goes_to_preferences(member, client):
    assert client.get("/signin").headers["Location"] == "/preferences"


# --- what a signed-in member's browser may keep ------------------------------------------------

def membership_of(email) -> Membership:
    return db.session.scalar(select(Membership).join(Membership.member).filter_by(email=email))


@pytest.fixture
def ids(app, member):
    """What Ada's pages name: her token, Bob's membership in Acme, her invitation to Globex."""
    member.generate("kept")
    with app.app_context():
        _, invitation = service.invite(membership_of("eve@example.com"), "ada@example.com", "member")
        db.session.commit()
        return {"token": db.session.scalar(select(ApiToken.public_id)), "bob": membership_of("bob@example.com").id,
                "ada": app.config["SEED"]["ada_id"], "acme": app.config["SEED"]["acme"], "invitation": invitation}


@pytest.mark.parametrize("path, status", [
    ("/", 302), ("/signin", 302), ("/preferences", 200), ("/preferences?member={ada}", 200),
    ("/preferences/tokens/{token}/delete", 200), ("/members", 200), ("/members/{bob}/remove", 200),
    ("/audit", 200), ("/audit?page=2", 200), ("/join/{invitation}", 200), ("/nowhere", 404),
])
def test_no_page_a_signed_in_member_gets_is_stored(member, ids, path, status):
    response = member.client.get(path.format(**ids))
    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"


HTMX = {"HX-Request": "true"}
ANSWERS = {
    "generate refused, htmx": (422, lambda member, ids: member.generate("x" * 10_000)),
    "generate refused": (422, lambda member, ids: member.generate("x" * 10_000, htmx=False)),
    "delete, htmx": (200, lambda member, ids: member.delete(ids["token"])),
    "delete": (302, lambda member, ids: member.delete(ids["token"], htmx=False)),
    "delete refused, htmx": (404, lambda member, ids: member.delete("AAAAAAAAAAAA")),
    "change role, htmx": (200, lambda member, ids: member.client.post(
        f"/members/{ids['bob']}/role", data={"role": "admin"}, headers={**HTMX, "X-CSRFToken": member.csrf})),
    "change password refused": (422, lambda member, ids: member.client.post(
        "/preferences/password", data={"current": "wrong", "password": PASSWORD * 2, "confirm": PASSWORD * 2,
                                       "csrf_token": member.csrf})),
    "switch account": (302, lambda member, ids: member.client.post(
        "/accounts/switch", data={"account": ids["acme"], "csrf_token": member.csrf})),
    "sign in": (302, lambda member, ids: Actions(member.client.application.test_client()).sign_in()),
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_no_fragment_or_answer_to_a_change_is_stored(member, ids, answer):
    status, act = ANSWERS[answer]
    response = act(member, ids)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_keep_their_caching_when_a_member_asks(member):
    assert member.page().headers["Cache-Control"] == "no-store"
    with member.client.get("/static/app.css") as stylesheet:
        assert stylesheet.status_code == 200 and stylesheet.headers["Cache-Control"] == "no-cache"
        assert "Set-Cookie" not in stylesheet.headers


def test_sign_out_clears_what_the_browser_kept(member, client):
    response = client.post("/signout", data={"csrf_token": member.csrf})
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert response.headers["Cache-Control"] == "no-store"
