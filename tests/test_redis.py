"""Rate limits in Redis, shared by every worker and instance, and what happens when Redis stops."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from .conftest import API, PASSWORD, Actions, flip, headers_of, login, make_app, seed
from .servers import free_port


class RedisServer:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="portal-redis-"))
        self.port = free_port()

    def start(self):
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--daemonize", "yes", "--dir", str(self.folder),
                        "--pidfile", str(self.folder / "redis.pid")], check=True, capture_output=True)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def stop(self):
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], check=False, capture_output=True)
        time.sleep(0.2)


@pytest.fixture
def redis_server():
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: run bin/test, which installs it")
    server = RedisServer()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def limited(tmp_path, redis_server):
    app = make_app(tmp_path / "redis.sqlite3", RATELIMIT_ENABLED=True, SIGN_IN_RATE_LIMIT="3 per minute",
                   FAILED_AUTH_RATE_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_server.port}")
    seed(app)
    return app


def test_limits_are_counted_in_redis_across_app_instances(limited, tmp_path, redis_server):
    twin = make_app(tmp_path / "redis.sqlite3", RATELIMIT_ENABLED=True, SIGN_IN_RATE_LIMIT="3 per minute",
                    RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_server.port}")
    for instance in (limited, limited, twin):
        instance.test_client().post(f"{API}/login", json={"username": "ada@example.com", "password": "wrong"})
    refused = twin.test_client().post(f"{API}/login", json={"username": "ada@example.com", "password": PASSWORD})
    assert refused.status_code == 429  # the third attempt happened on the other instance


def test_with_redis_stopped_sign_in_fails_closed_and_the_api_keeps_working(limited, redis_server):
    client = limited.test_client()
    credentials = headers_of(login(client))
    redis_server.stop()
    web = Actions(limited.test_client()).sign_in()
    assert web.status_code == 503 and "Sign-in is paused" in web.text
    api_login = client.post(f"{API}/login", json={"username": "ada@example.com", "password": PASSWORD})
    assert api_login.status_code == 503 and api_login.json["status"] == "error"
    assert client.get(f"{API}/tokens/self", headers=credentials).status_code == 200
    bad = {**credentials, "X-Auth-Token": flip(credentials["X-Auth-Token"], -1)}
    assert {client.get(f"{API}/tokens", headers=bad).status_code for _ in range(5)} == {401}
    redis_server.start()
    assert Actions(limited.test_client()).sign_in().status_code == 302
