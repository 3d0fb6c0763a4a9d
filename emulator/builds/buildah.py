"""Image builds with buildah in the project's own storage, reproducibly, pushed to a registry.

buildah runs as root with `--isolation chroot` (what works on machines without a container
runtime) and the `overlay` storage driver where the kernel allows it, else `vfs` (which copies a
whole file system per layer and container: a FROM alone costs ~20 s and ~0.3 GB), in a storage
root of its own under the cache directory, so that nothing of the machine's own container
storage is read or changed and the locally made base images (see base_images.py) are found
under their usual names. Builds never pull (`--pull=never`): a Dockerfile whose FROM is not in
that storage fails at once, naming it.

Reproducible: the same context and Dockerfile give the same digest (`--timestamp 0` for the image
and every file in its layers; the Dockerfiles remove apt's and dpkg's logs themselves).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Images of a build are removed from storage once pushed: vfs keeps a full copy of the file
# system per layer, so keeping them would cost ~0.3-0.6 GB per build.
DEFAULT_TIMEOUT_SECONDS = 900


def choose_storage_driver(storage_dir: str | os.PathLike, executable: str = "buildah") -> str:
    """Records (once) and returns the driver for a new storage: overlay when a scratch container
    can be mounted with it here, else vfs. An existing storage keeps the driver it was made with."""
    storage = Path(storage_dir)
    recorded = storage / "driver"
    if recorded.is_file():
        return recorded.read_text().strip()
    wanted = os.environ.get("TEKTON_CD_STORAGE_DRIVER", "")
    if not wanted:
        wanted = "vfs"
        storage.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="driver-probe-", dir=storage.parent) as probe:
            base = [
                executable,
                "--root",
                f"{probe}/root",
                "--runroot",
                f"{probe}/run",
                "--storage-driver",
                "overlay",
            ]
            made = subprocess.run([*base, "from", "scratch"], capture_output=True, text=True, check=False)
            if made.returncode == 0:
                container = made.stdout.strip()
                mounted = subprocess.run([*base, "mount", container], capture_output=True, check=False)
                subprocess.run([*base, "umount", container], capture_output=True, check=False)
                subprocess.run([*base, "rm", container], capture_output=True, check=False)
                if mounted.returncode == 0:
                    wanted = "overlay"
    storage.mkdir(parents=True, exist_ok=True)
    recorded.write_text(wanted + "\n")
    return wanted


class BuildError(Exception):
    """A build or push that failed; `log` is everything buildah wrote, as the step's log."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


@dataclass
class BuildResult:
    image: str  # the reference pushed, as given (repository[:tag])
    digest: str  # sha256:<64 hex>, the manifest digest the registry holds
    log: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        """repository@digest: what a deploy pins."""
        return f"{repository_of(self.image)}@{self.digest}"


def repository_of(image: str) -> str:
    """The repository part of an image reference (without :tag or @digest); a registry port stays."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def host_ca_bundle() -> str | None:
    """The CA bundle this machine trusts: builds get it as the secret `hostca`, because outbound
    HTTPS may be re-signed by a proxy whose CA only the host knows."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


class Buildah:
    """buildah with its storage under `storage_dir` (root and runroot), chroot isolation, and the
    storage driver recorded in `storage_dir/driver` by `choose_storage_driver` (vfs if none)."""

    def __init__(self, storage_dir: str | os.PathLike, executable: str = "buildah"):
        self.storage_dir = Path(storage_dir)
        self.executable = executable
        recorded = self.storage_dir / "driver"
        self.driver = recorded.read_text().strip() if recorded.is_file() else "vfs"
        # The storage's own locking makes concurrent builds safe; this lock only keeps the
        # first-use creation of the directories from racing.
        self._init_lock = threading.Lock()

    def command(self, *args: str) -> list[str]:
        return [
            self.executable,
            "--root",
            str(self.storage_dir / "root"),
            "--runroot",
            str(self.storage_dir / "runroot"),
            "--storage-driver",
            self.driver,
            *args,
        ]

    def run(self, *args: str, timeout: float = DEFAULT_TIMEOUT_SECONDS, what: str | None = None) -> str:
        """Runs one buildah command; returns its output (stdout and stderr merged, in order)."""
        with self._init_lock:
            (self.storage_dir / "root").mkdir(parents=True, exist_ok=True)
            (self.storage_dir / "runroot").mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "BUILDAH_ISOLATION": "chroot"}
        try:
            done = subprocess.run(
                self.command(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                timeout=timeout,
                env=environment,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            output = (
                error.output.decode(errors="replace")
                if isinstance(error.output, bytes)
                else (error.output or "")
            )
            raise BuildError(
                f"{what or 'buildah ' + args[0]} did not finish within {timeout:.0f} s.", output
            ) from None
        if done.returncode != 0:
            last = next((line for line in reversed(done.stdout.splitlines()) if line.strip()), "")
            raise BuildError(
                f"{what or 'buildah ' + args[0]} failed (exit status {done.returncode}): {last.strip()}",
                done.stdout,
            )
        return done.stdout

    def image_exists(self, name: str) -> bool:
        probe = subprocess.run(
            self.command("inspect", "--type", "image", "--format", "{{.FromImageID}}", name),
            capture_output=True,
            text=True,
            check=False,
        )
        return probe.returncode == 0

    def image_id(self, name: str) -> str:
        return self.run("inspect", "--type", "image", "--format", "{{.FromImageID}}", name).strip()

    def build(
        self,
        context_dir: str | os.PathLike,
        dockerfile: str | os.PathLike,
        tag: str,
        build_args: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
    ) -> str:
        """Builds into local storage as `tag`; returns the build log."""
        context = Path(context_dir)
        dockerfile_path = Path(dockerfile)
        if not dockerfile_path.is_absolute():
            dockerfile_path = context / dockerfile_path
        if not context.is_dir():
            raise BuildError(
                f"build context {context} is not a directory; check the step's CONTEXT parameter."
            )
        if not dockerfile_path.is_file():
            raise BuildError(
                f"Dockerfile {dockerfile_path} does not exist; check the step's DOCKERFILE parameter."
            )
        args = [
            "bud",
            "--isolation",
            "chroot",
            "--pull=never",
            "--timestamp",
            "0",
            "--layers=false",
            # A failed step's container would otherwise stay, mounted: a checkout holding mounts
            # cannot be deleted, and every failing build would leave one more.
            "--force-rm",
            "--format",
            "oci",
            "-f",
            str(dockerfile_path),
            "-t",
            tag,
        ]
        for name, value in (build_args or {}).items():
            args += ["--build-arg", f"{name}={value}"]
        ca_bundle = host_ca_bundle()
        if ca_bundle:
            args += ["--secret", f"id=hostca,src={ca_bundle}"]
        args += list(extra_args or [])
        args.append(str(context))
        return self.run(*args, what=f"building {tag} from {dockerfile_path}")

    def push(self, image: str, destination: str | None = None, tls_verify: bool = False) -> tuple[str, str]:
        """Pushes `image` (to docker://`destination`, default the same name); returns (digest, log)."""
        with tempfile.TemporaryDirectory(prefix="buildah-push-") as scratch:
            digest_file = Path(scratch) / "digest"
            log = self.run(
                "push",
                f"--tls-verify={'true' if tls_verify else 'false'}",
                "--digestfile",
                str(digest_file),
                image,
                f"docker://{destination or image}",
                what=f"pushing {destination or image}",
            )
            digest = digest_file.read_text().strip()
        if not digest.startswith("sha256:"):
            raise BuildError(f"buildah push of {image} wrote no sha256 digest (got {digest!r}).", log)
        return digest, log

    def remove_image(self, name: str) -> None:
        subprocess.run(self.command("rmi", "--force", name), capture_output=True, check=False)

    def build_and_push(
        self,
        context_dir: str | os.PathLike,
        dockerfile: str | os.PathLike,
        image: str,
        build_args: dict[str, str] | None = None,
        tls_verify: bool = False,
        extra_args: list[str] | None = None,
    ) -> BuildResult:
        """Builds `image` (repository[:tag] in the target registry) and pushes it there; returns the
        pushed digest and the whole log. Raises BuildError carrying the log on any failure."""
        started = time.monotonic()
        # A private local name, so that concurrent builds of the same image do not share a tag.
        local_tag = f"localhost/tekton-cd-build/{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
        log = ""
        try:
            log = self.build(context_dir, dockerfile, local_tag, build_args, extra_args)
            built = time.monotonic()
            try:
                digest, push_log = self.push(local_tag, destination=image, tls_verify=tls_verify)
            except BuildError as error:
                raise BuildError(str(error), log + error.log) from None
            log += push_log
            pushed = time.monotonic()
        finally:
            self.remove_image(local_tag)
        return BuildResult(
            image=image,
            digest=digest,
            log=log,
            seconds=pushed - started,
            timings={"build": built - started, "push": pushed - built},
        )


class RunningContainer:
    """An image's entrypoint running under `buildah run --isolation chroot` (host network, so
    it listens on and reaches 127.0.0.1). `podman run` does not work on these machines."""

    def __init__(self, buildah: Buildah, image: str, env: dict[str, str], args: list[str] | None = None):
        self.buildah = buildah
        details = json.loads(buildah.run("inspect", "--type", "image", image))
        config = details["OCIv1"].get("config") or {}
        command = list(config.get("Entrypoint") or []) + list(
            args if args is not None else config.get("Cmd") or []
        )
        if not command:
            raise BuildError(f"image {image} has neither an entrypoint nor a command to run.")
        self.container = buildah.run("from", "--pull=never", image).strip()
        run = ["run", "--isolation", "chroot"]
        if config.get("User"):
            run += ["--user", config["User"]]
        if config.get("WorkingDir"):
            run += ["--workingdir", config["WorkingDir"]]
        for name, value in env.items():
            run += ["--env", f"{name}={value}"]
        self.log_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            buildah.command(*run, self.container, "--", *command),
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        self.log_file.seek(0)
        return self.log_file.read()

    def stop(self) -> str:
        """Stops the process (SIGTERM, then SIGKILL), removes the container; returns the log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        text = self.log()
        self.log_file.close()
        subprocess.run(self.buildah.command("rm", self.container), capture_output=True, check=False)
        return text
