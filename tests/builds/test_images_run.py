"""The built images work: the local postgres image initialises its database from the chart's
environment, the database-migration image applies the migrations to it, and the API answers
/readyz and /api/status from it. Each runs with `buildah run --isolation chroot` on the host's
network, on free loopback ports; the images are pulled back from the registry they were pushed to.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request

import pytest

from emulator.builds.base_images import POSTGRES_IMAGE
from emulator.builds.buildah import RunningContainer
from emulator.builds.registry import free_loopback_port
from tests.builds.conftest import requires_real_builds

# One xdist worker runs every real-build test, so the session's images are built once.
pytestmark = [requires_real_builds, pytest.mark.xdist_group("real-builds")]
READY_TIMEOUT = 60


@pytest.fixture(scope="module")
def pulled(buildah):
    """pulled(reference) -> reference, pulled from the local registry; removed again afterwards."""
    references = []

    def pull(reference: str) -> str:
        buildah.run("pull", "--quiet", "--tls-verify=false", f"docker://{reference}")
        references.append(reference)
        return reference

    yield pull
    for reference in references:
        buildah.remove_image(reference)


def get(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=3) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def database(buildah):
    """The postgres image serving on a free port; libpq settings for the health images."""
    port = free_loopback_port()
    password = secrets.token_hex(12)
    server = RunningContainer(
        buildah,
        POSTGRES_IMAGE,
        env={
            "POSTGRES_DB": "health",
            "POSTGRES_USER": "health",
            "POSTGRES_PASSWORD": password,
            "PGDATA": "/tmp/pgdata",
        },
        args=["postgres", "-p", str(port), "-c", "listen_addresses=127.0.0.1"],
    )
    yield (
        server,
        {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGDATABASE": "health",
            "PGUSER": "health",
            "PGPASSWORD": password,
        },
    )
    server.stop()


def test_migrations_apply_and_the_api_serves_from_the_database(buildah, first_build, database, pulled):
    server, libpq = database
    migration = RunningContainer(
        buildah,
        pulled(first_build["database-migration"].reference),
        # migrate.py waits for the database itself, up to this bound: postgres may still be starting.
        env={**libpq, "MIGRATION_CONNECT_TIMEOUT": str(READY_TIMEOUT)},
    )
    exit_code = migration.wait(timeout=READY_TIMEOUT + 30)
    migration_log = migration.stop()
    assert exit_code == 0, migration_log + server.log()
    assert "initialised /tmp/pgdata with database health owned by health" in server.log()

    port = free_loopback_port()
    api = RunningContainer(buildah, pulled(first_build["api"].reference), env={**libpq, "PORT": str(port)})
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        status = None
        while time.monotonic() < deadline and api.process.poll() is None:
            try:
                status, _body = get(f"http://127.0.0.1:{port}/readyz")
            except OSError:
                status = None
            if status == 200:
                break
            time.sleep(0.2)  # polls the condition (the API answers ready) until the deadline
        assert status == 200, api.log()
        code, body = get(f"http://127.0.0.1:{port}/api/status")
        assert code == 200, body
        assert json.loads(body)
    finally:
        api.stop()


def test_the_postgres_image_refuses_to_start_without_a_password(buildah):
    server = RunningContainer(
        buildah, POSTGRES_IMAGE, env={"PGDATA": "/tmp/pgdata"}, args=["postgres", "-p", "1"]
    )
    exit_code = server.wait(timeout=60)
    log = server.stop()
    assert exit_code != 0
    assert "POSTGRES_PASSWORD is empty" in log
