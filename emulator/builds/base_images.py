"""The base images real builds start from, made on this machine once and cached.

Public registries may be unreachable, so the two images the health application needs from Docker
Hub are made locally and stored under their usual names in the project's buildah storage:

- `docker.io/library/debian:bookworm-slim`: a Debian 12 root file system from
  `debootstrap --variant=minbase bookworm`, trimmed like the official slim image (no apt caches,
  no documentation), committed with `buildah from scratch` + `buildah mount` + `tar -p` (not
  `buildah copy`, which would give every file to root);
- `docker.io/library/postgres:15-bookworm`: Debian's PostgreSQL 15 on that base
  (`images/postgres/`), running as UID 70 as the chart expects.

Each step's output is cached under the cache directory (the root file system as a tarball, each
image as an OCI archive), so a re-run, or a fresh buildah storage, only loads the archives.

    python -m emulator.builds.base_images --cache-dir .cache/builds
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .buildah import Buildah, BuildError, choose_storage_driver

DEBIAN_IMAGE = "docker.io/library/debian:bookworm-slim"
POSTGRES_IMAGE = "docker.io/library/postgres:15-bookworm"
SUITE = "bookworm"
IMAGES_DIR = Path(__file__).resolve().parent / "images"

# What the official slim image leaves out of every package, so that images stay small.
DPKG_EXCLUDES = """\
# tekton-cd's local debian:bookworm-slim: no documentation in images (like the official slim image)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""

# No package caches in images: smaller layers, and nothing in them that differs between rebuilds.
APT_NO_CACHE = """\
// tekton-cd's local debian:bookworm-slim: apt keeps no caches in an image
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Keep-Downloaded-Packages "false";
// Only the package indexes, no translations: a third less to download on every apt-get update.
Acquire::Languages "none";
// A mirror answers now and then with a reset or a file caught mid-sync: try again before failing.
Acquire::Retries "3";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
"""


class Paths:
    def __init__(self, cache_dir: str | Path):
        self.cache_dir = Path(cache_dir).resolve()
        # Each named by the hash of its recipe: a changed recipe makes a new image.
        self.rootfs = self.cache_dir / "rootfs" / f"{SUITE}-minbase-{debian_recipe_hash()[:12]}.tar"
        self.debian_archive = (
            self.cache_dir / "images" / f"debian-bookworm-slim-{debian_recipe_hash()[:12]}.oci.tar"
        )
        self.postgres_archive = (
            self.cache_dir / "images" / f"postgres-15-bookworm-{postgres_source_hash()[:12]}.oci.tar"
        )
        self.storage = self.cache_dir / "storage"


SOURCE_HASH_LABEL = "dev.tekton-cd.source-hash"


def debian_recipe_hash() -> str:
    return hashlib.sha256("\0".join((SUITE, DPKG_EXCLUDES, APT_NO_CACHE)).encode()).hexdigest()


def postgres_source_hash() -> str:
    """Its Dockerfile and entrypoint, and the base it is built on."""
    digest = hashlib.sha256(debian_recipe_hash().encode())
    for path in sorted((IMAGES_DIR / "postgres").rglob("*")):
        if path.is_file():
            digest.update(
                path.relative_to(IMAGES_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0"
            )
    return digest.hexdigest()


def image_label(buildah: Buildah, image: str, label: str) -> str | None:
    if not buildah.image_exists(image):
        return None
    details = json.loads(buildah.run("inspect", "--type", "image", image))
    return (details["OCIv1"]["config"].get("Labels") or {}).get(label)


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(
            f"{what} failed (exit status {done.returncode}); its output ends:\n{done.stdout[-2000:]}"
        )
    return done.stdout


def make_rootfs(paths: Paths) -> Path:
    """debootstrap → trimmed root file system → tarball (owners, modes and links preserved)."""
    paths.rootfs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=paths.rootfs.parent) as scratch:
        target = Path(scratch) / "root"
        _run(
            ["debootstrap", "--variant=minbase", SUITE, str(target)], f"debootstrap --variant=minbase {SUITE}"
        )
        (target / "etc/dpkg/dpkg.cfg.d/tekton-cd-slim").write_text(DPKG_EXCLUDES)
        (target / "etc/apt/apt.conf.d/90tekton-cd-slim").write_text(APT_NO_CACHE)
        # debootstrap copies the host's name and resolver into the target; an image must hold neither
        # (buildah provides both to each RUN).
        (target / "etc/hostname").unlink(missing_ok=True)
        (target / "etc/resolv.conf").unlink(missing_ok=True)
        (target / "etc/resolv.conf").write_text("")
        for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists", "var/log"):
            for entry in (target / leftovers).glob("*"):
                if entry.is_file() or entry.is_symlink():
                    entry.unlink()
        for cache in (target / "var/cache/apt").glob("*.bin"):
            cache.unlink()
        staging = Path(scratch) / "rootfs.tar"
        _run(
            ["tar", "--numeric-owner", "-cpf", str(staging), "-C", str(target), "."],
            "packing the root file system",
        )
        staging.replace(paths.rootfs)
    return paths.rootfs


def commit_debian_image(buildah: Buildah, paths: Paths) -> None:
    """The root file system tarball → an image in the storage, unpacked with `tar -p` into a mounted
    scratch container, so every owner and mode stays as debootstrap made it."""
    container = buildah.run("from", "--name", f"tekton-cd-debian-{time.monotonic_ns()}", "scratch").strip()
    try:
        mountpoint = buildah.run("mount", container).strip()
        _run(
            ["tar", "--numeric-owner", "-xpf", str(paths.rootfs), "-C", mountpoint],
            "unpacking the root file system",
        )
        buildah.run("umount", container)
        buildah.run(
            "config",
            "--os",
            "linux",
            "--arch",
            "amd64",
            "--cmd",
            "bash",
            "--env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--label",
            "org.opencontainers.image.description=Local stand-in for debian:bookworm-slim"
            " (debootstrap minbase)",
            "--label",
            f"{SOURCE_HASH_LABEL}={debian_recipe_hash()}",
            container,
        )
        buildah.run(
            "commit", "--rm", "--timestamp", "0", "--format", "oci", "--quiet", container, DEBIAN_IMAGE
        )
    except BaseException:
        subprocess.run(buildah.command("rm", container), capture_output=True, check=False)
        raise


def replacing(buildah: Buildah, image: str, make) -> None:
    """Runs `make`, which (re)tags `image`; then removes the image the tag named before, if any,
    so that an image of an older recipe is not kept on disk."""
    previous = buildah.image_id(image) if buildah.image_exists(image) else None
    make()
    if previous and previous != buildah.image_id(image):
        buildah.remove_image(previous)


def build_postgres_image(buildah: Buildah) -> None:
    context = IMAGES_DIR / "postgres"
    buildah.build(
        context,
        context / "Dockerfile",
        POSTGRES_IMAGE,
        build_args={"BASE_IMAGE": DEBIAN_IMAGE},
        extra_args=["--label", f"{SOURCE_HASH_LABEL}={postgres_source_hash()}"],
    )


def save(buildah: Buildah, image: str, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    staging = archive.with_name(archive.name + ".partial")
    staging.unlink(missing_ok=True)
    buildah.run(
        "push", "--quiet", image, f"oci-archive:{staging}:{image}", what=f"saving {image} to {archive}"
    )
    staging.replace(archive)


def load(buildah: Buildah, image: str, archive: Path) -> None:
    image_id = buildah.run(
        "pull", "--quiet", f"oci-archive:{archive}", what=f"loading {image} from {archive}"
    )
    # The archive's own name annotation is not relied on: the loaded image is tagged explicitly.
    buildah.run("tag", image_id.split()[-1], image)


def publish_postgres(buildah: Buildah, registry, repository: str = "library/postgres") -> str:
    """The local postgres image in `registry` (a LocalRegistry) as `<repository>:15-bookworm`, the
    chart's `images.postgres`, which the pipeline does not build: pushed unless that tag is there
    already (a push compresses ~0.4 GB). Returns `<host>/<repository>@<digest>`."""
    digest = registry.digest_of(repository, "15-bookworm")
    if digest is None:
        digest, _log = buildah.push(POSTGRES_IMAGE, destination=f"{registry.host}/{repository}:15-bookworm")
    return f"{registry.host}/{repository}@{digest}"


def ensure(cache_dir: str | Path, say=print) -> dict[str, float]:
    """Makes whatever is missing, in order; returns the seconds each step took (0 when cached)."""
    paths = Paths(cache_dir)
    storage_is_new = not (paths.storage / "driver").is_file()
    driver = choose_storage_driver(paths.storage)
    if storage_is_new:
        say(f"base_images: buildah storage {paths.storage} uses the {driver} driver")
    buildah = Buildah(paths.storage)
    timings: dict[str, float] = {}

    def step(name: str, done: bool, action) -> None:
        if done:
            timings[name] = 0.0
            return
        started = time.monotonic()
        action()
        timings[name] = round(time.monotonic() - started, 1)
        say(f"base_images: {name} done in {timings[name]} s")

    def debian_current() -> bool:
        return image_label(buildah, DEBIAN_IMAGE, SOURCE_HASH_LABEL) == debian_recipe_hash()

    def postgres_current() -> bool:
        return image_label(buildah, POSTGRES_IMAGE, SOURCE_HASH_LABEL) == postgres_source_hash()

    for kept, pattern in (
        (paths.debian_archive, "debian-*.oci.tar"),
        (paths.postgres_archive, "postgres-*.oci.tar"),
        (paths.rootfs, f"{SUITE}-minbase-*.tar"),
    ):
        for stale in kept.parent.glob(pattern):
            if stale != kept:
                stale.unlink()
    step(
        "debootstrap rootfs",
        paths.rootfs.is_file() or paths.debian_archive.is_file() or debian_current(),
        lambda: make_rootfs(paths),
    )
    step(
        "commit debian:bookworm-slim",
        debian_current() or paths.debian_archive.is_file(),
        lambda: replacing(buildah, DEBIAN_IMAGE, lambda: commit_debian_image(buildah, paths)),
    )
    step(
        "save debian:bookworm-slim",
        paths.debian_archive.is_file(),
        lambda: save(buildah, DEBIAN_IMAGE, paths.debian_archive),
    )
    step(
        "load debian:bookworm-slim",
        debian_current(),
        lambda: replacing(buildah, DEBIAN_IMAGE, lambda: load(buildah, DEBIAN_IMAGE, paths.debian_archive)),
    )
    step(
        "build postgres",
        postgres_current() or paths.postgres_archive.is_file(),
        lambda: replacing(buildah, POSTGRES_IMAGE, lambda: build_postgres_image(buildah)),
    )
    step(
        "save postgres",
        paths.postgres_archive.is_file(),
        lambda: save(buildah, POSTGRES_IMAGE, paths.postgres_archive),
    )
    step(
        "load postgres",
        postgres_current(),
        lambda: replacing(
            buildah, POSTGRES_IMAGE, lambda: load(buildah, POSTGRES_IMAGE, paths.postgres_archive)
        ),
    )
    # Once the debian image is archived, the tarball it came from is not needed again.
    if paths.rootfs.is_file() and paths.debian_archive.is_file():
        paths.rootfs.unlink()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.builds.base_images", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cache-dir", required=True, help="where the archives and the buildah storage live")
    args = parser.parse_args(argv)
    if shutil.which("debootstrap") is None or shutil.which("buildah") is None:
        print(
            "base_images: debootstrap and buildah are needed to make the base images; install them first.",
            file=sys.stderr,
        )
        return 1
    started = time.monotonic()
    try:
        timings = ensure(args.cache_dir)
    except BuildError as error:
        print(f"base_images: {error}", file=sys.stderr)
        if error.log:
            print(error.log[-4000:], file=sys.stderr)
        return 1
    made = [name for name, seconds in timings.items() if seconds]
    summary = f"made {', '.join(made)}" if made else "all cached"
    print(
        f"base_images: {DEBIAN_IMAGE} and {POSTGRES_IMAGE} ready"
        f" ({summary}; {time.monotonic() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
