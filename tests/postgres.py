"""A throwaway PostgreSQL cluster for the test session: started on a free loopback port, stopped at the end."""

import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
LOG_PREFIX = "@@"
_names = itertools.count(1)


def available() -> bool:
    return (BIN / "initdb").exists() and (os.geteuid() != 0 or _postgres_user() is not None)


def _postgres_user():
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def start(self) -> None:
        if os.geteuid() == 0:
            user = _postgres_user()
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        subprocess.run(_as_server_user([str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                                        "--no-sync"]), check=True, capture_output=True)
        self.resume()

    def resume(self) -> None:
        """Start (or start again) the server."""
        # Every statement is logged, prefixed with its database, for the tests that count queries.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
                   f" -c log_statement=all -c log_line_prefix={LOG_PREFIX}%d{LOG_PREFIX}")
        log = str(self.log)
        command = [str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-o", options, "-l", log, "start"]
        subprocess.run(_as_server_user(command), check=True, capture_output=True)

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def statements_logged(self, database: str, since: int) -> list[str]:
        """Return the statements the server logged for ``database`` after byte ``since`` of its log."""
        with open(self.log, encoding="utf-8", errors="replace") as log:
            log.seek(since)
            entries = re.split(f"^{LOG_PREFIX}", log.read(), flags=re.MULTILINE)
        head = f"{database}{LOG_PREFIX}LOG:  "
        return [re.sub(r"^(statement|execute [^:]*): ", "", entry[len(head):]).strip()
                for entry in entries if entry.startswith(head) and re.match(r"(statement|execute )", entry[len(head):])]

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, statement: str) -> None:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(statement)

    def new_database(self, template: str | None = None) -> str:
        """Create an empty database (or a copy of ``template``) and return its URL."""
        name = f"portal_{os.getpid()}_{next(_names)}"
        self.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``new_database``; a connection a test left open is ended first."""
        self.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    @contextmanager
    def database(self, template: str | None = None):
        """A new database for the block (as ``new_database``), dropped at its end: kept, one per test, the
        session's databases would fill the cluster with gigabytes of files for its removal to delete at the end."""
        url = self.new_database(template)
        try:
            yield url
        finally:
            self.drop_database(url)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Copies:
    """Copies of a template database, each made while the test before it runs, and each dropped after its
    test while the next one runs: a test waits for neither statement (0.03 to 0.3 s, the busier the more).

    One thread does both, in order, on connections of its own; a copy holds the same rows a CREATE DATABASE
    in the test's own time would have copied, since nothing connects to the template once it is made.
    """

    def __init__(self, cluster: Cluster, template: str):
        self.cluster = cluster
        self.template = template
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-copies")
        self.ahead = None
        self.drops = []

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.worker.shutdown(wait=True)
        self._check_drops()

    def _check_drops(self) -> None:
        """Raise the error of a drop that failed (in the next test's setup, or at the session's end)."""
        for drop in [drop for drop in self.drops if drop.done()]:
            self.drops.remove(drop)
            drop.result()

    def _next(self):
        return self.worker.submit(self.cluster.new_database, self.template)

    @contextmanager
    def database(self):
        """A copy of the template for the block, dropped after it (in the background); the next is begun."""
        self._check_drops()
        url = (self.ahead or self._next()).result()
        self.ahead = self._next()
        try:
            yield url
        finally:
            self.drops.append(self.worker.submit(self.cluster.drop_database, url))


@contextmanager
def throwaway_cluster(prefix: str = "portal-postgres-"):
    """Start a cluster in a new folder, yield it, then stop it and remove the folder.

    Not under pytest's temporary folder: as root that one is private, and the server runs as postgres.
    """
    if not available():
        pytest.fail("PostgreSQL's server binaries are missing: run bin/test, which installs them")
    cluster = Cluster(Path(tempfile.mkdtemp(prefix=prefix)))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()
