"""The health images' programs, run in-process against SQLite through the same DB-API calls they
make on PostgreSQL (psycopg2 is only in the images). What is PostgreSQL-specific (libpq
environment, the driver's error classes) is exercised only in the images themselves."""

import importlib.util
import json
import sqlite3
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "examples" / "health" / "images"


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api = load("health_api", IMAGES / "api" / "app.py")
migrate = load("health_migrate", IMAGES / "database-migration" / "migrate.py")


class PsycopgLikeConnection:
    """SQLite with psycopg2's transaction behaviour: every statement, DDL included, runs in a
    transaction opened implicitly and ended only by commit() or rollback(). (Python's sqlite3
    would commit DDL at once, hiding a migration that is not rolled back as a whole.)"""

    def __init__(self, path):
        self.sqlite = sqlite3.connect(path, isolation_level=None)

    def cursor(self):
        connection = self.sqlite

        class Cursor:
            description = None

            def execute(self, sql):
                if not connection.in_transaction:
                    connection.execute("BEGIN")
                self._cursor = connection.execute(sql)
                self.description = self._cursor.description

            def fetchall(self):
                return self._cursor.fetchall()

        return Cursor()

    def commit(self):
        if self.sqlite.in_transaction:
            self.sqlite.execute("COMMIT")

    def rollback(self):
        if self.sqlite.in_transaction:
            self.sqlite.execute("ROLLBACK")

    def close(self):
        self.sqlite.close()


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "health.db"
    return lambda: PsycopgLikeConnection(path)


def rows(connection, sql):
    cursor = connection.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


@pytest.fixture
def serve(database):
    """Base URL of the API on 127.0.0.1, reading from the given connection factory."""
    servers = []

    def start(connect=database):
        server = ThreadingHTTPServer(("127.0.0.1", 0), api.make_handler(connect, (sqlite3.OperationalError,)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(url):
    try:
        with urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def migrated(database):
    connection = database()
    try:
        return migrate.migrate(connection)
    finally:
        connection.close()


def test_migrations_apply_in_order_once(database):
    assert migrated(database) == [1, 2]
    assert migrated(database) == []
    tables = {row[0] for row in rows(database(), "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"schema_migrations", "runs", "run_metadata"} <= tables


def test_a_failing_migration_is_rolled_back_and_resumed_later(database, tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001_good.sql").write_text("CREATE TABLE good (id INTEGER);\n")
    (migrations / "002_bad.sql").write_text(
        "CREATE TABLE half (id INTEGER);\nINSERT INTO missing VALUES (1);\n"
    )
    connection = database()
    with pytest.raises(migrate.MigrationError, match="002_bad.sql failed and was rolled back"):
        migrate.migrate(connection, migrations)
    assert rows(connection, "SELECT version FROM schema_migrations") == [(1,)]
    assert rows(connection, "SELECT name FROM sqlite_master WHERE name = 'half'") == []
    (migrations / "002_bad.sql").write_text("CREATE TABLE half (id INTEGER);\n")
    assert migrate.migrate(connection, migrations) == [2]


def test_misnamed_migration_files_are_refused(tmp_path):
    (tmp_path / "001_a.sql").write_text("")
    (tmp_path / "1_b.sql").write_text("")
    with pytest.raises(migrate.MigrationError, match="share version 1"):
        migrate.pending_migrations(tmp_path, set())
    (tmp_path / "1_b.sql").unlink()
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(migrate.MigrationError, match="notes.txt .* is not named NNN_description.sql"):
        migrate.pending_migrations(tmp_path, set())


def test_connecting_retries_until_the_database_answers():
    attempts = []
    now = [0.0]

    def connect():
        attempts.append(now[0])
        if len(attempts) < 3:
            raise OSError("connection refused")
        return "connection"

    def pause(seconds):
        now[0] += seconds

    assert migrate.connect_within(connect, 30, clock=lambda: now[0], pause=pause) == "connection"
    assert attempts == [0.0, 2.0, 4.0]


def test_connecting_gives_up_at_the_deadline():
    now = [0.0]

    def refuse():
        raise OSError("connection refused")

    def pause(seconds):
        now[0] += seconds

    with pytest.raises(
        migrate.MigrationError, match="did not accept a connection within 10s: connection refused"
    ):
        migrate.connect_within(refuse, 10, clock=lambda: now[0], pause=pause)
    assert now[0] <= 10


def test_api_liveness_needs_only_the_process(serve):
    def unreachable():
        raise OSError("could not connect to server")

    base = serve(unreachable)
    assert get(f"{base}/healthz") == (200, {"status": "ok"})
    status, body = get(f"{base}/readyz")
    assert status == 503 and body["error"] == "could not connect to server"


def test_api_is_ready_before_the_migration_but_reports_the_missing_schema(serve):
    base = serve()
    assert get(f"{base}/readyz") == (200, {"status": "ok", "database": "ok"})
    status, body = get(f"{base}/api/status")
    assert status == 503
    assert body == {
        "database": "ok",
        "schema_version": None,
        "error": "the database migration has not run yet",
    }


def test_api_serves_status_and_newest_runs_first(serve, database):
    migrated(database)
    connection = database()
    connection.cursor().execute(
        "INSERT INTO runs (id, name, started_at, passed, failed, skipped) VALUES"
        " (1, 'tempest-full', '2026-11-01 10:00:00', 1200, 3, 40),"
        " (2, 'tempest-slow', '2026-11-02 09:00:00', 80, 0, 2)"
    )
    connection.commit()
    base = serve()
    assert get(f"{base}/api/status") == (200, {"database": "ok", "schema_version": 2, "runs": 2})
    status, body = get(f"{base}/api/runs?limit=1")
    assert status == 200
    assert body == {
        "runs": [
            {
                "id": 2,
                "name": "tempest-slow",
                "started_at": "2026-11-02 09:00:00",
                "passed": 80,
                "failed": 0,
                "skipped": 2,
            }
        ]
    }


@pytest.mark.parametrize("limit", ["0", "501", "ten"])
def test_api_rejects_a_bad_limit(serve, database, limit):
    migrated(database)
    status, body = get(f"{serve()}/api/runs?limit={limit}")
    assert status == 400 and "limit must be an integer from 1 to 500" in body["error"]


def test_api_answers_unknown_paths_with_404(serve):
    status, body = get(f"{serve()}/api/nothing")
    assert status == 404 and body == {"error": "no such endpoint: /api/nothing"}


@pytest.mark.parametrize("image", ["api", "frontend", "database-migration"])
def test_dockerfiles_run_as_the_chart_uid_and_copy_existing_sources(image):
    directory = IMAGES / image
    lines = (directory / "Dockerfile").read_text().splitlines()
    assert "USER 10001:10001" in lines
    for line in lines:
        if line.startswith("COPY "):
            source = line.split()[1]
            assert (directory / source).exists(), f"{image}/Dockerfile copies {source}, which does not exist"


def test_api_answers_a_failing_query_with_500_instead_of_dropping_the_connection(serve, database):
    migrated(database)
    database().sqlite.execute("DROP TABLE runs")
    status, body = get(f"{serve()}/api/runs")
    assert status == 500 and body == {"error": "no such table: runs"}


def test_multi_line_driver_errors_are_reported_on_one_line(serve):
    def refused():
        raise OSError('connection to server failed: Connection refused\n\tIs the server running on "db"?\n')

    status, body = get(f"{serve(refused)}/readyz")
    assert status == 503
    assert body["error"] == 'connection to server failed: Connection refused Is the server running on "db"?'
