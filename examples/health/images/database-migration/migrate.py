"""Applies the SQL migrations in ./migrations to the health database, each at most once.

Files are named NNN_description.sql and applied in numeric order, each in its own transaction
together with its row in schema_migrations, so a failure leaves the database at the last
complete version and the next run resumes there. Statements are separated by ";" at the end of a
line. Connection settings come from the libpq environment (PGHOST, PGUSER, PGPASSWORD, ...).

The database may still be starting (first install): connecting is retried until
MIGRATION_CONNECT_TIMEOUT seconds (default 120) have passed, then the run fails.
"""

import os
import re
import sys
import time
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FILE_NAME = re.compile(r"^(\d+)_[a-z0-9_]+\.sql$")


class MigrationError(Exception):
    pass


def one_line(error):
    """libpq spreads its messages over several lines; the Job's log wants one per event."""
    return " ".join(str(error).split())


def pending_migrations(directory, applied):
    found = {}
    for path in sorted(directory.iterdir()):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name} in {directory} is not named NNN_description.sql; rename it.")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"{path.name} and {found[version].name} share version {version}; renumber one."
            )
        found[version] = path
    return [(version, found[version]) for version in sorted(found) if version not in applied]


def statements(sql):
    return [part.strip() for part in re.split(r";\s*$", sql, flags=re.M) if part.strip()]


def connect_within(connect, timeout, retry_interval=2.0, clock=time.monotonic, pause=time.sleep):
    """A connection from connect(), retried while the database refuses, for at most timeout seconds."""
    deadline = clock() + timeout
    while True:
        try:
            return connect()
        except Exception as error:
            if clock() + retry_interval > deadline:
                raise MigrationError(
                    f"the database did not accept a connection within {timeout:g}s: {one_line(error)}"
                ) from error
            print(f"waiting for the database: {one_line(error)}", file=sys.stderr, flush=True)
            pause(retry_interval)


def migrate(connection, directory=MIGRATIONS):
    """Applies pending migrations; returns the versions applied, in order."""
    cursor = connection.cursor()
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL)"
    )
    cursor.execute("SELECT version FROM schema_migrations")
    applied = {row[0] for row in cursor.fetchall()}
    connection.commit()
    done = []
    for version, path in pending_migrations(directory, applied):
        try:
            for statement in statements(path.read_text()):
                cursor.execute(statement)
            # version is an int from the file name: formatted in, no driver parameter style needed.
            cursor.execute(
                f"INSERT INTO schema_migrations (version, name) VALUES ({version:d}, '{path.stem}')"
            )
            connection.commit()
        except Exception as error:
            connection.rollback()
            raise MigrationError(f"{path.name} failed and was rolled back: {one_line(error)}") from error
        print(f"applied {path.name}", flush=True)
        done.append(version)
    return done


def main():
    import psycopg2  # imported here so the module loads, and is tested, without the driver

    timeout = float(os.environ.get("MIGRATION_CONNECT_TIMEOUT", "120"))
    try:
        connection = connect_within(lambda: psycopg2.connect(connect_timeout=5), timeout)
        try:
            done = migrate(connection)
        finally:
            connection.close()
    except MigrationError as error:
        sys.exit(f"migration failed: {error}")
    print(f"schema up to date ({len(done)} migration(s) applied)", flush=True)


if __name__ == "__main__":
    main()
