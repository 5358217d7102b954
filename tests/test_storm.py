"""Under load, on both databases: real servers, many threads, bounded counts, and the books must balance."""

import collections
import random
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from .conftest import PASSWORD
from .servers import environment, gunicorn, prepare

API = "/api/2018-10-01"
THREADS = 8
ROUNDS = 25  # per thread: 200 rounds of create, use, list and (every other round) delete


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('storm') / 'storm.sqlite3'}"
    else:
        with request.getfixturevalue("postgres").database() as url:
            yield url


@pytest.fixture(scope="module")
def portal(database_url, tmp_path_factory):
    """One portal per database for the module, as booting one costs seconds: each test counts only what it did."""
    env = environment(database_url, TOKENS_PER_MEMBER="100000", RATELIMIT_ENABLED="false")
    prepare(env)
    with gunicorn(env, tmp_path_factory.mktemp("storm-gunicorn"), workers=2, threads=4) as base:
        yield base


def log_in(base):
    response = requests.post(f"{base}{API}/login", json={"username": "ada@example.com", "password": PASSWORD},
                             timeout=10)
    assert response.status_code == 200
    return response.json()["data"]


def count_rows(url):
    engine = create_engine(url.replace("sqlite:///", "sqlite:///", 1))
    with engine.connect() as connection:
        rows, digests = connection.execute(text("SELECT count(*), count(DISTINCT digest) FROM api_token")).one()
    engine.dispose()
    return rows, digests


def test_a_storm_of_creating_using_listing_and_deleting_balances(portal, database_url, capsys):
    main = log_in(portal)
    before, _ = count_rows(database_url)  # the main login token, and what the module's other tests left
    statuses = collections.Counter()
    created, deleted = [], []
    lock = threading.Lock()

    def worker(seed):
        session = requests.Session()
        session.headers.update(main)
        mine = []
        chance = random.Random(seed)
        for round_number in range(ROUNDS):
            response = session.post(f"{portal}{API}/tokens", json={"name": f"storm {seed}-{round_number}"}, timeout=30)
            with lock:
                statuses[response.status_code] += 1
            if response.status_code == 201:
                data = response.json()["data"]
                mine.append((data["token"]["id"], data["X-Auth-Token"]))
                with lock:
                    created.append(data["token"]["id"])
            if mine:
                token_id, token = chance.choice(mine)
                used = session.get(f"{portal}{API}/tokens/self", timeout=30,
                                   headers={"X-Account-Id": main["X-Account-Id"], "X-Auth-Token": token})
                listed = session.get(f"{portal}{API}/tokens", timeout=30)
                with lock:
                    statuses[used.status_code] += 1
                    statuses[listed.status_code] += 1
            if mine and round_number % 2:
                token_id, token = mine.pop(chance.randrange(len(mine)))
                gone = session.delete(f"{portal}{API}/tokens/{token_id}", timeout=30)
                with lock:
                    statuses[gone.status_code] += 1
                    if gone.status_code == 200:
                        deleted.append((token_id, token))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started

    rows, digests = count_rows(database_url)
    expected = before + len(created) - len(deleted)  # what was there, plus what was made, less what was deleted
    with capsys.disabled():
        print(f"\n[storm {database_url.split(':')[0]}] {sum(statuses.values())} requests by {THREADS} threads "
              f"in {elapsed:.1f}s; statuses {dict(sorted(statuses.items()))}; created {len(created)}, "
              f"deleted {len(deleted)}; rows expected {expected}, found {rows}")
    assert rows == expected and digests == rows
    assert not [status for status in statuses if status >= 500 and status != 503]
    assert set(statuses) <= {200, 201, 503}
    refused = collections.Counter(
        requests.get(f"{portal}{API}/tokens/self", timeout=10,
                     headers={"X-Account-Id": main["X-Account-Id"], "X-Auth-Token": token}).status_code
        for _, token in deleted)
    assert refused == {401: len(deleted)}


def test_concurrent_deletes_of_one_token_one_wins(portal):
    main = log_in(portal)
    token_id = requests.post(f"{portal}{API}/tokens", headers=main, timeout=10).json()["data"]["token"]["id"]
    barrier = threading.Barrier(THREADS)
    statuses = []

    def delete():
        barrier.wait()
        statuses.append(requests.delete(f"{portal}{API}/tokens/{token_id}", headers=main, timeout=30).status_code)

    threads = [threading.Thread(target=delete) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [404] * (THREADS - 1)


@pytest.mark.parametrize("grace", [3600, 0])
def test_concurrent_rotations_of_one_token_one_wins_and_no_token_is_lost_or_doubled(portal, database_url, grace):
    main = log_in(portal)
    old = requests.post(f"{portal}{API}/tokens", headers=main, json={"name": "rotated"}, timeout=10).json()["data"]
    before, _ = count_rows(database_url)
    barrier = threading.Barrier(THREADS)
    answers = []

    def rotate():
        barrier.wait()
        response = requests.post(f"{portal}{API}/tokens/{old['token']['id']}/rotate", headers=main,
                                 json={"grace_seconds": grace}, timeout=30)
        answers.append((response.status_code, response.json()["data"]))

    threads = [threading.Thread(target=rotate) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [data for status, data in answers if status == 201]
    assert len(won) == 1
    # The losers are told it was rotated (or, once the old one was deleted with no grace, that it is gone).
    assert {status for status, _ in answers if status != 201} <= ({409} if grace else {404, 409})
    rows, digests = count_rows(database_url)
    assert rows == digests == before + (1 if grace else 0)  # the new one; the old one stays only for its grace
    new = {"X-Account-Id": won[0]["X-Account-Id"], "X-Auth-Token": won[0]["X-Auth-Token"]}
    old_headers = {"X-Account-Id": old["X-Account-Id"], "X-Auth-Token": old["X-Auth-Token"]}
    assert requests.get(f"{portal}{API}/tokens/self", headers=new, timeout=10).status_code == 200
    assert requests.get(f"{portal}{API}/tokens/self", headers=old_headers, timeout=10).status_code == (
        200 if grace else 401)


def test_revoking_a_token_in_use_refuses_every_request_that_starts_afterwards(portal):
    main = log_in(portal)
    victim = requests.post(f"{portal}{API}/tokens", headers=main, timeout=10).json()["data"]
    headers = {"X-Account-Id": victim["X-Account-Id"], "X-Auth-Token": victim["X-Auth-Token"]}
    seen, done = [], threading.Event()

    def hammer():
        session = requests.Session()
        for _ in range(400):  # bounded, and it stops once the token has been refused for a while
            began = time.perf_counter()
            status = session.get(f"{portal}{API}/tokens/self", headers=headers, timeout=10).status_code
            seen.append((began, status))
            if done.is_set() and len([s for _, s in seen[-20:] if s == 401]) == 20:
                return

    thread = threading.Thread(target=hammer)
    thread.start()
    time.sleep(0.3)
    response = requests.delete(f"{portal}{API}/tokens/{victim['token']['id']}", headers=main, timeout=10)
    deleted_at = time.perf_counter()
    done.set()
    thread.join()
    assert response.status_code == 200
    before = [status for began, status in seen if began < deleted_at]
    after = [status for began, status in seen if began > deleted_at]
    assert 200 in before and after and set(after) == {401}


def test_two_instances_on_one_postgresql_agree_at_once(postgres, tmp_path):
    with postgres.database() as url:
        env = environment(url, RATELIMIT_ENABLED="false")
        prepare(env)
        with gunicorn(env, tmp_path, workers=1) as first, gunicorn(env, tmp_path, workers=1) as second:
            main = log_in(first)
            for _ in range(5):
                made = requests.post(f"{first}{API}/tokens", headers=main, timeout=10).json()["data"]
                headers = {"X-Account-Id": made["X-Account-Id"], "X-Auth-Token": made["X-Auth-Token"]}
                assert requests.get(f"{second}{API}/tokens/self", headers=headers, timeout=10).status_code == 200
                assert requests.delete(f"{first}{API}/tokens/{made['token']['id']}", headers=main,
                                       timeout=10).status_code == 200
                assert requests.get(f"{second}{API}/tokens/self", headers=headers, timeout=10).status_code == 401
