"""HTTP API of the health dashboard: CI test runs stored in PostgreSQL, served as JSON.

Endpoints:
  GET /healthz      the process answers (liveness)
  GET /readyz       the database answers (readiness; the schema may not exist yet)
  GET /api/status   database reachable, schema version, number of runs
  GET /api/runs     most recent runs, newest first (?limit=1..500, default 50)

Connection settings come from the libpq environment (PGHOST, PGPORT, PGDATABASE, PGUSER,
PGPASSWORD); the API only reads.
"""

import json
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_RUNS = 500
DEFAULT_RUNS = 50


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer."""


def one_line(error):
    """libpq spreads its messages over several lines; JSON answers and logs want one."""
    return " ".join(str(error).split())


def query(connect, sql):
    """Rows of one read-only statement, on a fresh connection (the API keeps no pool)."""
    try:
        connection = connect()
    except Exception as error:
        raise DatabaseUnavailable(one_line(error)) from error
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def schema_version(connect, missing_table_errors):
    """Highest applied migration, or None when the migration has not run yet."""
    try:
        rows = query(connect, "SELECT MAX(version) AS version FROM schema_migrations")
    except missing_table_errors:
        return None
    return rows[0]["version"]


def run_limit(query_string):
    values = parse_qs(query_string).get("limit", [str(DEFAULT_RUNS)])
    try:
        limit = int(values[0])
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_RUNS:
        raise ValueError(f"limit must be an integer from 1 to {MAX_RUNS}, got {values[0]!r}")
    return limit


def jsonable(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def make_handler(connect, missing_table_errors):
    """Request handler class reading through connect(), a DB-API connection factory;
    missing_table_errors are the driver's exceptions for a table that does not exist."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "health-api"

        def send_json(self, status, body):
            payload = json.dumps(body, default=jsonable).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            url = urlsplit(self.path)
            route = {
                "/healthz": self.healthz,
                "/readyz": self.readyz,
                "/api/status": self.status,
                "/api/runs": self.runs,
            }.get(url.path.rstrip("/") or "/")
            if route is None:
                self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {url.path}"})
                return
            try:
                route(url.query)
            except DatabaseUnavailable as error:
                self.send_json(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"database": "unavailable", "error": str(error)}
                )
            except Exception as error:
                # E.g. the connection dropped mid-query: answer, rather than close the socket.
                self.log_error("%s failed: %s", url.path, one_line(error))
                self.send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": one_line(error)})

        def healthz(self, _query):
            self.send_json(HTTPStatus.OK, {"status": "ok"})

        def readyz(self, _query):
            query(connect, "SELECT 1 AS ok")
            self.send_json(HTTPStatus.OK, {"status": "ok", "database": "ok"})

        def status(self, _query):
            version = schema_version(connect, missing_table_errors)
            if version is None:
                self.send_json(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    {
                        "database": "ok",
                        "schema_version": None,
                        "error": "the database migration has not run yet",
                    },
                )
                return
            runs = query(connect, "SELECT COUNT(*) AS runs FROM runs")[0]["runs"]
            self.send_json(HTTPStatus.OK, {"database": "ok", "schema_version": version, "runs": runs})

        def runs(self, query_string):
            try:
                limit = run_limit(query_string)
            except ValueError as error:
                self.send_json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                return
            # limit is a validated int, so formatting it in keeps the SQL free of driver-specific
            # parameter styles.
            rows = query(
                connect,
                "SELECT id, name, started_at, passed, failed, skipped FROM runs"
                f" ORDER BY started_at DESC, id DESC LIMIT {limit:d}",
            )
            self.send_json(HTTPStatus.OK, {"runs": rows})

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def main():
    # Imported here so that the module loads, and is tested, without the driver.
    import psycopg2
    import psycopg2.errors

    timeout = os.environ.get("PGCONNECT_TIMEOUT", "3")
    port = int(os.environ.get("PORT", "8080"))
    handler = make_handler(
        lambda: psycopg2.connect(connect_timeout=timeout), (psycopg2.errors.UndefinedTable,)
    )
    server = ThreadingHTTPServer(("", port), handler)
    print(f"health-api listening on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
