"""Account Preferences' token list: 50 a page, newest first, Show more and the search."""

import html as entities
import re
from datetime import UTC, datetime, timedelta
from hashlib import sha256

import pytest
from sqlalchemy import select, text

from tokens import secret
from tokens.extensions import db
from tokens.models import ApiToken, Member, Membership

from .conftest import Actions, _sqlite_statements, make_app, seed

NAMES = re.compile(r'<td class="name"[^>]*>([^<]*)')
SHOW_MORE = re.compile(r'<a href="([^"]+)" hx-get="\1" hx-target="#more-tokens" hx-swap="outerHTML">Show more</a>')
EARLY = datetime(2026, 1, 1, tzinfo=UTC)


def add_tokens(app, email, count, *, prefix="t", account="acme"):
    """Give ``email`` ``count`` tokens named ``<prefix>0`` (oldest) to ``<prefix><count-1>`` (newest).

    Three at a time share a creation time, so a page's end falls between tokens of the same second.
    """
    with app.app_context():
        member = db.session.scalar(select(Member).filter_by(email=email))
        membership = db.session.scalar(select(Membership).filter_by(member_id=member.id))
        made = []
        for n in range(count):
            token = secret.generate("tok")
            made.append(ApiToken(account_id=membership.account_id, member_id=member.id,
                                 digest=sha256(token.encode()).hexdigest(), hint=secret.hint(token),
                                 name=f"{prefix}{n}", scope="read", created_via="cli",
                                 created_at=EARLY + timedelta(seconds=n // 3)))
        db.session.add_all(made)
        db.session.commit()
        return {token.name: token.hint for token in made}


def names(page_html):
    return [entities.unescape(name) for name in NAMES.findall(page_html)]


def next_link(page_html):
    match = SHOW_MORE.search(page_html)
    return entities.unescape(match.group(1)) if match else None


def newest_first(prefix, high, low):
    return [f"{prefix}{n}" for n in range(high, low - 1, -1)]


@pytest.fixture
def bob(app):
    actions = Actions(app.test_client())
    assert actions.sign_in("bob@example.com").status_code == 302
    return actions


def test_an_owner_pages_through_120_tokens_newest_first_without_javascript(app, member):
    add_tokens(app, "ada@example.com", 120)
    first = member.page().text
    assert names(first) == newest_first("t", 119, 70)
    assert "newest first" in first
    second = member.client.get(next_link(first))
    assert second.status_code == 200 and "<html" in second.text  # a page of its own
    assert names(second.text) == newest_first("t", 69, 20)
    third = member.client.get(next_link(second.text)).text
    assert names(third) == newest_first("t", 19, 0)
    assert next_link(third) is None and "Show more" not in third
    assert 'href="/preferences">Newest tokens</a>' in third


def test_show_more_with_htmx_appends_the_next_rows_and_replaces_itself(app, member):
    add_tokens(app, "ada@example.com", 120)
    link = next_link(member.page().text)
    seen = []
    while link:
        answer = member.client.get(link, headers={"HX-Request": "true"})
        assert answer.status_code == 200 and "<html" not in answer.text
        assert "HX-Request" in answer.headers["Vary"]
        # The main swap is the next control; the rows go to the end of the table.
        control, rows = answer.text.split('<hx-partial hx-target="#token-rows" hx-swap="beforeend">')
        assert control.lstrip().startswith('<nav id="more-tokens"') and not NAMES.search(control)
        assert "Newest tokens" not in control
        seen += names(rows)
        link = next_link(control)
    assert seen == newest_first("t", 69, 0)  # none twice, none missing, and the last control is empty


def test_no_row_twice_or_missing_when_tokens_come_and_go_between_pages(app, member, bob):
    add_tokens(app, "ada@example.com", 120)
    first = member.page().text
    # Meanwhile, Bob generates a token (newer than all), and Ada deletes two: one shown, one not yet.
    assert bob.generate("made meanwhile").status_code == 201
    with app.app_context():
        gone = {name: db.session.scalar(select(ApiToken.public_id).filter_by(name=name)) for name in ("t100", "t60")}
    for token_id in gone.values():
        assert member.delete(token_id).status_code == 200
    second = member.client.get(next_link(first)).text
    third = member.client.get(next_link(second)).text
    assert names(second) + names(third) == [n for n in newest_first("t", 69, 0) if n != "t60"]
    assert next_link(third) is None


def test_search_by_name_hint_and_member_combines_with_the_member_filter(app, member):
    ada_hints = add_tokens(app, "ada@example.com", 3, prefix="deploy-")
    add_tokens(app, "bob@example.com", 2, prefix="bob-ci-")
    with app.app_context():
        bob_id = db.session.scalar(select(Member.id).filter_by(email="bob@example.com"))

    def search(**query):
        response = member.client.get("/preferences", query_string=query)
        assert response.status_code == 200
        return names(response.text)

    assert search(q="DEPLOY-1") == ["deploy-1"]  # case does not matter
    hint = ada_hints["deploy-2"]
    for typed in (hint, hint.replace("…", "..."), hint[-4:]):
        assert "deploy-2" in search(q=typed)
    assert search(q="bob@example") == ["bob-ci-1", "bob-ci-0"]  # a member, by email
    assert search(q="Bob") == ["bob-ci-1", "bob-ci-0"]  # or by name
    assert search(q="-1", member=bob_id) == ["bob-ci-1"]
    assert search(q="deploy", member=bob_id) == []
    empty = member.client.get("/preferences", query_string={"q": "no such 100%_"}).text
    assert "No API tokens match “no such 100%_”." in empty
    assert 'value="no such 100%_"' in empty  # the search stays in its field


def test_search_with_htmx_answers_the_list_alone(app, member):
    # Names with a "-", which no hint holds: a search for them never meets a random hint by chance.
    add_tokens(app, "ada@example.com", 60, prefix="x-")
    answer = member.client.get("/preferences?q=x-5", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "<html" not in answer.text
    assert answer.text.lstrip().startswith('<div id="token-list">')
    assert names(answer.text) == newest_first("x-", 59, 50) + ["x-5"]
    assert next_link(answer.text) is None
    many = member.client.get("/preferences?q=x-", headers={"HX-Request": "true"}).text
    assert len(names(many)) == 50
    # Show more keeps the search.
    assert names(member.client.get(next_link(many)).text) == newest_first("x-", 9, 0)


@pytest.mark.parametrize("cursor", [
    "yesterday", "2026-01-01T00:00:00.000000", "2026-13-01T00:00:00.000000,5", "2026-01-01T00:00:00.000000,0",
    "2026-01-01T00:00:00.000000,99999999999999999999", "2026-01-01T00:00:00.000000,5\x00", "%00", "1,2,3",
])
def test_a_damaged_cursor_answers_400_saying_so(member, cursor):
    page = member.client.get("/preferences", query_string={"before": cursor})
    assert page.status_code == 400
    assert "This “Show more” link is not one the portal made." in entities.unescape(page.text)
    fragment = member.client.get("/preferences", query_string={"before": cursor}, headers={"HX-Request": "true"})
    assert fragment.status_code == 400 and "<html" not in fragment.text
    assert "Start again from the first page." in entities.unescape(fragment.text)


@pytest.mark.parametrize("query", [{"q": "a\x00b"}, {"q": "x" * 5000}, {"member": "abc"}, {"member": "-1"},
                                   {"member": str(2**70)}, {"q": "\u2028"}, {"before": ""}])
def test_odd_searches_and_filters_never_fail(member, query):
    assert member.client.get("/preferences", query_string=query).status_code == 200


def test_a_member_pages_through_their_own_tokens_only(app, bob):
    add_tokens(app, "bob@example.com", 60, prefix="bob")
    add_tokens(app, "ada@example.com", 5, prefix="ada-")  # names with a "-", which no hint of Bob's holds
    add_tokens(app, "eve@example.com", 5, prefix="eve-")  # another account
    first = bob.page().text
    assert names(first) == newest_first("bob", 59, 10)
    assert "Tokens of" not in first  # no member filter for a member
    second = bob.client.get(next_link(first)).text
    assert names(second) == newest_first("bob", 9, 0)
    assert next_link(second) is None
    # Searching for another member, or filtering by one, shows only Bob's own tokens.
    assert names(bob.client.get("/preferences?q=ada-").text) == []
    assert names(bob.client.get("/preferences?q=eve-").text) == []
    with app.app_context():
        ada_id = db.session.scalar(select(Member.id).filter_by(email="ada@example.com"))
    assert names(bob.client.get(f"/preferences?member={ada_id}").text) == newest_first("bob", 59, 10)


def test_an_owner_never_sees_another_accounts_tokens(app, member):
    add_tokens(app, "eve@example.com", 3, prefix="eve-")
    with app.app_context():
        eve_id = db.session.scalar(select(Member.id).filter_by(email="eve@example.com"))
    assert names(member.page().text) == []
    assert names(member.client.get("/preferences?q=eve-").text) == []
    assert names(member.client.get(f"/preferences?member={eve_id}").text) == []


def test_a_page_is_read_from_the_accounts_index_without_sorting(tmp_path):
    """SQLite's plan, which follows the index at any size (PostgreSQL's planner reads a table this small whole,
    whatever its indexes; the migrations test checks the index is there)."""
    app = make_app(tmp_path / "plan.sqlite3")
    app.config["SEED"] = seed(app)
    member = Actions(app.test_client())
    assert member.sign_in().status_code == 302
    add_tokens(app, "ada@example.com", 60)
    link = next_link(member.page().text)
    with _sqlite_statements(app) as seen:
        assert member.client.get(link).status_code == 200
    [listing] = [sql for sql in seen if sql.startswith("SELECT api_token.id")]
    with app.app_context():
        plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {listing}")))
    assert "USING INDEX ix_api_token_account_created (account_id=? AND created_at<?)" in plan
    assert "TEMP B-TREE" not in plan  # no sort: the rows come in the index's order
