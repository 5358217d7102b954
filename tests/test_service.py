"""The service layer, called directly as the API and the CLI will call it."""

import threading

import pytest
from sqlalchemy import func, select

from tokens import secret, service
from tokens.extensions import db
from tokens.models import ApiToken, AuditEvent, Membership

from .conftest import HIDDEN_NAMES, PASSWORD


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def membership_of(email):
    return db.session.scalar(select(Membership).join(Membership.member).filter_by(email=email))


def test_issue_stores_a_keyed_digest_never_the_secret(ctx):
    ada = membership_of("ada@example.com")
    token, token_secret = service.issue_token(ada, "deploy", ip="192.0.2.1")
    db.session.commit()
    assert secret.parse(token_secret)
    assert token.digest == secret.digest(token_secret, ctx.config["TOKEN_DIGEST_KEY"].encode())
    assert token.digest != secret.digest(token_secret, ctx.config["SECRET_KEY"].encode())
    row = db.session.execute(select(ApiToken.__table__)).one()
    assert token_secret not in repr(tuple(row))
    event = db.session.scalar(select(AuditEvent))
    assert (event.action, event.subject, event.ip) == ("token.created", token.public_id, "192.0.2.1")


def test_rotating_the_session_key_keeps_tokens_valid(ctx):
    _, token_secret = service.issue_token(membership_of("ada@example.com"))
    db.session.commit()
    ctx.config["SECRET_KEY"] = "a completely different session key, rotated"
    assert db.session.scalar(select(ApiToken).filter_by(digest=service.token_digest(token_secret)))


def test_the_prefix_is_configurable(ctx):
    ctx.config["TOKEN_PREFIX"] = "acme"
    _, token_secret = service.issue_token(membership_of("ada@example.com"))
    assert token_secret.startswith("acme_") and secret.parse(token_secret)


def test_list_is_the_members_own_tokens_newest_first(ctx):
    ada, bob = membership_of("ada@example.com"), membership_of("bob@example.com")
    for name in ("one", "two", "three"):
        service.issue_token(ada, name)
    service.issue_token(bob, "bob's")
    db.session.commit()
    assert [t.name for t in service.list_tokens(ada)] == ["three", "two", "one"]
    assert [t.name for t in service.list_tokens(bob)] == ["bob's"]


def test_nonce_guards_against_a_second_token(ctx):
    ada = membership_of("ada@example.com")
    service.issue_token(ada, nonce="n" * 22)
    with pytest.raises(service.DuplicateRequest):
        service.issue_token(ada, nonce="n" * 22)
    service.issue_token(ada, nonce="m" * 22)
    # Another member may use the same value: the guard is per member.
    service.issue_token(membership_of("bob@example.com"), nonce="n" * 22)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 3


def test_concurrent_submissions_of_one_form_make_one_token(app):
    """Two threads, two connections, one nonce: the unique index decides."""
    barrier = threading.Barrier(2)
    outcomes = []

    def submit():
        with app.app_context():
            ada = membership_of("ada@example.com")
            barrier.wait()
            try:
                service.issue_token(ada, nonce="same-form-nonce-1234")
                db.session.commit()
                outcomes.append("created")
            except service.DuplicateRequest:
                outcomes.append("duplicate")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "duplicate"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_the_limit_is_per_member_and_account(ctx):
    ctx.config["TOKENS_PER_MEMBER"] = 1
    ada = membership_of("ada@example.com")
    service.issue_token(ada)
    with pytest.raises(service.TokenLimitReached, match="the most allowed is 1"):
        service.issue_token(ada)
    service.issue_token(membership_of("bob@example.com"))


def test_revoke_tells_deleted_already_gone_and_not_yours(ctx):
    ada, bob = membership_of("ada@example.com"), membership_of("bob@example.com")
    eve = membership_of("eve@example.com")
    bobs, _ = service.issue_token(bob)
    adas, _ = service.issue_token(ada)
    eves, _ = service.issue_token(eve)
    db.session.commit()
    assert service.revoke_token(bob, bobs.public_id) is service.Revoked.DELETED
    assert service.revoke_token(bob, bobs.public_id) is service.Revoked.ALREADY_GONE
    for token_id in (adas.public_id, eves.public_id, "never-existed", ""):
        with pytest.raises(service.NotFound):  # Bob is a plain member: only his own tokens
            service.revoke_token(bob, token_id)
    with pytest.raises(service.NotFound):  # an owner manages her account, not another one
        service.revoke_token(ada, eves.public_id)
    db.session.commit()
    assert {t.public_id for t in db.session.scalars(select(ApiToken))} == {adas.public_id, eves.public_id}


def test_owners_revoke_any_token_of_their_account_and_the_member_hears_of_it(ctx):
    ada, bob = membership_of("ada@example.com"), membership_of("bob@example.com")
    bobs, _ = service.issue_token(bob)
    db.session.commit()
    assert service.revoke_token(ada, bobs.public_id, ip="192.0.2.1") is service.Revoked.DELETED
    db.session.commit()
    event = db.session.scalar(select(AuditEvent).filter_by(action="token.deleted"))
    assert (event.actor_id, event.member_id, event.ip) == (ada.member_id, bob.member_id, "192.0.2.1")
    assert service.revoke_token(bob, bobs.public_id) is service.Revoked.ALREADY_GONE


@pytest.mark.parametrize("name, problem", [
    ("x" * 101, "too long"), ("tab\there", "control"),
    ("rtl\u202eoverride", "control"), ("nul\x00", "control"),
])
def test_token_names_are_checked_once_for_every_caller(ctx, name, problem):
    with pytest.raises(service.InvalidInput, match=problem):
        service.issue_token(membership_of("ada@example.com"), name)


def test_names_keep_unicode_and_are_trimmed(ctx):
    token, _ = service.issue_token(membership_of("ada@example.com"), "  déploiement 🚀 👩\u200d💻 ")
    assert token.name == "déploiement 🚀 👩\u200d💻"


def test_passwords_are_argon2id_and_checked(ctx):
    ada = membership_of("ada@example.com").member
    assert ada.password_hash.startswith("$argon2id$")
    assert service.authenticate_member("ada@example.com", PASSWORD) == ada
    assert service.authenticate_member("ada@example.com", PASSWORD + "x") is None
    assert service.authenticate_member("nobody@example.com", PASSWORD) is None


def test_weak_hashes_are_upgraded_at_sign_in(ctx):
    ada = membership_of("ada@example.com").member
    old_hash = ada.password_hash
    ctx.config["ARGON2_PARAMETERS"] = {"time_cost": 2, "memory_cost": 2048, "parallelism": 1}
    assert service.authenticate_member("ada@example.com", PASSWORD) == ada
    assert ada.password_hash != old_hash and "m=2048,t=2" in ada.password_hash


def test_short_passwords_are_refused(ctx):
    account = service.create_account("Short")
    with pytest.raises(service.InvalidInput, match="at least 12"):
        service.add_member(account, "new@example.com", "New", "short")


def test_a_member_cannot_join_an_account_twice(ctx):
    acme = membership_of("ada@example.com").account
    with pytest.raises(service.InvalidInput, match="already a member"):
        service.add_member(acme, "ADA@example.com", "", None)


def test_an_existing_member_joins_another_account_with_their_password(ctx):
    globex = membership_of("eve@example.com").account
    membership = service.add_member(globex, "ada@example.com", "", None, "admin")
    assert membership.member.email == "ada@example.com" and membership.role == "admin"


def test_accounts_get_random_17_character_public_ids(ctx):
    ids = {service.create_account(f"Team {n}").public_id for n in range(50)}
    assert len(ids) == 50 and all(len(i) == 17 and i.isalnum() for i in ids)


# Names that look like what they are: emoji sequences, accents (typed composed or not), any script.
FINE_NAMES = {
    "technologist": "👩\u200d💻", "rainbow flag": "🏳\ufe0f\u200d🌈", "skin tone": "👩🏽\u200d💻",
    "family": "👨\u200d👩\u200d👧", "heart on fire": "❤\ufe0f\u200d🔥", "polar bear": "🐻\u200d❄\ufe0f",
    "accents": "Zoë Ångström", "CJK": "東京の鍵", "Hangul": "한국어 토큰", "Arabic": "مفتاح النشر",
    "Hebrew": "מפתח", "Devanagari": "परिनियोजन", "keycap": "#\ufe0f\u20e3 deploy",
}


@pytest.mark.parametrize("name", HIDDEN_NAMES.values(), ids=HIDDEN_NAMES.keys())
def test_hidden_characters_are_refused_by_category(name):
    with pytest.raises(service.InvalidInput, match="^The token name contains invisible control characters; remove"):
        service.clean_text(name, "The token name")


@pytest.mark.parametrize("name", FINE_NAMES.values(), ids=FINE_NAMES.keys())
def test_names_in_any_script_and_emoji_sequences_are_kept(name):
    assert service.clean_text(f" {name} ", "The token name") == name


def test_names_are_stored_composed_and_measured_so(ctx):
    composed, decomposed = "Zo\u00eb caf\u00e9", "Zoe\u0308 cafe\u0301"
    token, _ = service.issue_token(membership_of("ada@example.com"), decomposed)
    assert token.name == composed
    # 100 characters once composed, 150 as typed: the stored length is what counts.
    assert service.clean_text("e\u0301" * 50 + "é" * 50, "The token name") == "é" * 100


def test_display_and_account_names_refuse_hidden_characters(ctx):
    acme = db.session.scalar(select(Membership).join(Membership.member).filter_by(email="ada@example.com")).account
    for name in HIDDEN_NAMES.values():
        with pytest.raises(service.InvalidInput, match="invisible control characters"):
            service.add_member(acme, "new@example.com", name, PASSWORD)
        with pytest.raises(service.InvalidInput, match="invisible control characters"):
            service.create_account(name)
    member = service.add_member(acme, "zoe@example.com", "Zoe\u0308 👩\u200d💻", PASSWORD).member
    assert member.display_name == "Zoë 👩\u200d💻" and service.create_account("e\u0301quipe").name == "équipe"
