"""What this machine can really do for the pipeline's steps, and in one sentence why not.

    caps = detect()
    caps.builds.available, caps.builds.reason   # buildah + registry + base image, as root
    caps.git, caps.helm                         # the same shape

The demo and the tests ask this before they choose real or simulated steps, and print the
reason when they simulate, so nobody mistakes a simulated build for a real one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .base_images import DEBIAN_IMAGE, POSTGRES_IMAGE, Paths
from .buildah import Buildah

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache" / "builds"
INSTALL_HINT = "apt-get install -y --no-install-recommends buildah docker-registry debootstrap skopeo git"


@dataclass(frozen=True)
class Capability:
    available: bool
    reason: str = ""  # why not, as one sentence; empty when available

    def __bool__(self) -> bool:
        return self.available


@dataclass(frozen=True)
class Capabilities:
    builds: Capability
    git: Capability
    helm: Capability
    cache_dir: Path

    @property
    def storage_dir(self) -> Path:
        return Paths(self.cache_dir).storage


def _builds(cache_dir: Path) -> Capability:
    if os.name != "posix" or os.geteuid() != 0:
        return Capability(
            False,
            "real image builds need root (buildah with chroot isolation and vfs storage); "
            "this process is not root, so builds are simulated.",
        )
    missing = [tool for tool in ("buildah", "docker-registry") if shutil.which(tool) is None]
    if missing:
        return Capability(
            False,
            f"{' and '.join(missing)} not installed, so builds are simulated; "
            f"install with: {INSTALL_HINT} (make setup does this as root on Debian).",
        )
    buildah = Buildah(Paths(cache_dir).storage)
    absent = [image for image in (DEBIAN_IMAGE, POSTGRES_IMAGE) if not buildah.image_exists(image)]
    if absent:
        return Capability(
            False,
            f"the local base image {absent[0]} is not in {Paths(cache_dir).storage}, "
            "so builds are simulated; run make setup to make it.",
        )
    return Capability(True)


def _git() -> Capability:
    if shutil.which("git") is None:
        return Capability(
            False, f"git is not installed, so the clone step is simulated; install with: {INSTALL_HINT}."
        )
    return Capability(True)


def _helm() -> Capability:
    helm = PROJECT_ROOT / ".venv" / "bin" / "helm"
    if not os.access(helm, os.X_OK):
        return Capability(
            False,
            f"{helm.relative_to(PROJECT_ROOT)} is missing, so the deploy step is simulated; run make setup.",
        )
    return Capability(True)


def detect(cache_dir: str | os.PathLike | None = None) -> Capabilities:
    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
    return Capabilities(builds=_builds(cache), git=_git(), helm=_helm(), cache_dir=cache)


def helm_binary() -> Path:
    return PROJECT_ROOT / ".venv" / "bin" / "helm"


if __name__ == "__main__":
    found = detect()
    for name in ("builds", "git", "helm"):
        capability = getattr(found, name)
        print(f"{name}: real" if capability else f"{name}: simulated - {capability.reason}")
