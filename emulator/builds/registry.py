"""A real OCI registry on 127.0.0.1 for the builds: Debian's `docker-registry` (distribution 2.8)
with a configuration and a storage directory of its own, on a free loopback port, over plain HTTP
(`buildah push --tls-verify=false`). Never the system service.

    with LocalRegistry(storage_dir) as registry:
        registry.host                      # "127.0.0.1:<port>"
        registry.manifest_exists("127.0.0.1:<port>/tekton-cd/health-api@sha256:…")
        registry.tags("tekton-cd/health-api"), registry.repositories()

    python -m emulator.builds.registry start --state-dir DIR   # detached; prints the host
    python -m emulator.builds.registry stop --state-dir DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT_SECONDS = 20
# What a HEAD on a manifest accepts: a single-platform image (OCI or Docker) or an index.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)


class RegistryError(Exception):
    pass


def split_reference(reference: str) -> tuple[str, str, str]:
    """'host:port/name@sha256:…' (or ':tag') → (host, name, digest-or-tag)."""
    if "/" not in reference:
        raise RegistryError(
            f"image reference {reference!r} names no registry host; expected host:port/name@sha256:<digest>."
        )
    host, rest = reference.split("/", 1)
    if "@" in rest:
        name, ref = rest.split("@", 1)
    elif ":" in rest.rsplit("/", 1)[-1]:
        name, ref = rest.rsplit(":", 1)
    else:
        raise RegistryError(f"image reference {reference!r} has neither a digest nor a tag.")
    return host, name, ref


def _request(url: str, method: str = "GET", accept: str | None = None, timeout: float = 10):
    request = urllib.request.Request(url, method=method, headers={"Accept": accept} if accept else {})
    # A loopback registry: no proxy may stand between the builds and it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(request, timeout=timeout)


def manifest_exists(reference: str) -> bool:
    """True when the registry named in `reference` (host:port/name@digest or :tag) holds that
    manifest, by a HEAD on /v2/<name>/manifests/<digest>; False on 404. Other answers raise."""
    host, name, ref = split_reference(reference)
    try:
        with _request(
            f"http://{host}/v2/{name}/manifests/{ref}", method="HEAD", accept=MANIFEST_TYPES
        ) as answer:
            found = answer.headers.get("Docker-Content-Digest", "")
            return not ref.startswith("sha256:") or found in ("", ref)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise RegistryError(
            f"registry {host} answered {error.code} to HEAD /v2/{name}/manifests/{ref}."
        ) from None
    except OSError as error:
        raise RegistryError(f"registry {host} is not reachable ({error}); is it running?") from None


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalRegistry:
    """One `docker-registry serve` process; its blobs live in `storage_dir` (a temporary
    directory, removed on stop, when none is given)."""

    def __init__(self, storage_dir: str | os.PathLike | None = None, executable: str = "docker-registry"):
        self._owns_storage = storage_dir is None
        self.storage_dir = Path(storage_dir) if storage_dir else Path(tempfile.mkdtemp(prefix="registry-"))
        self.executable = executable
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        if self.port is None:
            raise RegistryError("the registry is not started.")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def config_text(self, port: int) -> str:
        # JSON is YAML: no YAML library needed to write the registry's configuration.
        return json.dumps(
            {
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(self.storage_dir / "data")},
                    "delete": {"enabled": True},
                },
                "http": {"addr": f"127.0.0.1:{port}"},
            },
            indent=2,
        )

    def start(self) -> LocalRegistry:
        if shutil.which(self.executable) is None:
            raise RegistryError(
                f"{self.executable} is not installed; as root on Debian or Ubuntu run "
                "'apt-get install -y --no-install-recommends docker-registry' (make setup does)."
            )
        (self.storage_dir / "data").mkdir(parents=True, exist_ok=True)
        # The port is chosen free and then bound by the registry: another process could take it in
        # between, so a registry that exits at once is retried on a new port.
        for _attempt in range(3):
            port = free_loopback_port()
            config = self.storage_dir / "config.yml"
            config.write_text(self.config_text(port))
            log = open(self.storage_dir / "registry.log", "ab")  # noqa: SIM115 - owned by the process
            self.process = subprocess.Popen(
                [self.executable, "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()
            self.port = port
            if self._wait_until_serving():
                return self
            self.process.wait()
        raise RegistryError(
            f"{self.executable} did not start; its log is {self.storage_dir / 'registry.log'}."
        )

    def _wait_until_serving(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with _request(f"{self.url}/v2/", timeout=1) as answer:
                    if answer.status == 200:
                        return True
            except OSError:
                pass
            # Polls the condition (the registry answers /v2/) a few times per second until the deadline.
            time.sleep(0.05)
        self.process.kill()
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._owns_storage:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def manifest_exists(self, reference: str) -> bool:
        """As the module's manifest_exists; `reference` may also omit this registry's host."""
        if not reference.startswith(self.host + "/"):
            reference = f"{self.host}/{reference}"
        return manifest_exists(reference)

    def _get_json(self, path: str) -> dict:
        try:
            with _request(self.url + path) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return {}
            raise RegistryError(f"registry {self.host} answered {error.code} to GET {path}.") from None

    def tags(self, name: str) -> list[str]:
        return sorted(self._get_json(f"/v2/{name}/tags/list").get("tags") or [])

    def repositories(self) -> list[str]:
        return sorted(self._get_json("/v2/_catalog").get("repositories") or [])

    def digest_of(self, name: str, tag: str) -> str | None:
        """The manifest digest a tag points to, or None when the tag does not exist."""
        try:
            with _request(
                f"{self.url}/v2/{name}/manifests/{tag}", method="HEAD", accept=MANIFEST_TYPES
            ) as answer:
                return answer.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise RegistryError(
                f"registry {self.host} answered {error.code} to HEAD /v2/{name}/manifests/{tag}."
            ) from None


# The command line: a detached registry for the demo, its state (pid, host) in the state dir.


def _start(state_dir: Path) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    registry = LocalRegistry(state_dir).start()
    (state_dir / "registry.pid").write_text(str(registry.process.pid))
    (state_dir / "registry.host").write_text(registry.host)
    print(registry.host)
    return 0


def _stop(state_dir: Path) -> int:
    pid_file = state_dir / "registry.pid"
    if not pid_file.is_file():
        return 0
    pid = int(pid_file.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    pid_file.unlink()
    (state_dir / "registry.host").unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.builds.registry")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--state-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        return (_start if args.action == "start" else _stop)(args.state_dir.resolve())
    except RegistryError as error:
        print(f"registry: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
