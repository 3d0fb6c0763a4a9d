"""scripts/setup.d/builders.sh, the set-up step for real builds, in each of its situations. The
machine's tools are replaced by stand-ins on PATH (id, dpkg-query, apt-get, the venv's python)
that record how they were called, so no package is installed and no network is used."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILDERS_SH = ROOT / "scripts" / "setup.d" / "builders.sh"
PACKAGES = "buildah docker-registry debootstrap skopeo git"


@pytest.fixture
def machine(tmp_path):
    """run(uid, installed) -> (CompletedProcess, calls): builders.sh with stand-in tools."""
    bin_dir, venv = tmp_path / "bin", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    calls = tmp_path / "calls"

    def stand_in(path: Path, body: str) -> None:
        path.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >>{calls}\n{body}\n')
        path.chmod(0o755)

    def run(uid: int, installed: bool):
        calls.write_text("")
        stand_in(bin_dir / "id", f"echo {uid}")
        status = "install ok installed" if installed else "unknown ok not-installed"
        stand_in(bin_dir / "dpkg-query", f"printf '%s' '{status}'")
        stand_in(bin_dir / "apt-get", "exit 0")
        stand_in(venv / "bin" / "python", "exit 0")
        done = subprocess.run(
            ["bash", str(BUILDERS_SH), str(venv)],
            capture_output=True,
            text=True,
            env={**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"},
            check=False,
        )
        return done, calls.read_text().splitlines()

    return run


@pytest.mark.skipif(
    not Path("/etc/os-release").is_file(), reason="needs /etc/os-release to tell the distribution"
)
def test_as_a_user_it_prints_the_install_command_installs_nothing_and_carries_on(machine):
    done, calls = machine(uid=1000, installed=False)
    assert done.returncode == 0, done.stderr
    assert f"apt-get update && apt-get install -y --no-install-recommends {PACKAGES}" in done.stdout
    assert "simulates the build steps" in done.stdout
    assert not [call for call in calls if call.startswith(("apt-get", "python"))]


def test_with_everything_installed_it_asks_no_package_manager_and_makes_the_base_images(machine):
    done, calls = machine(uid=0, installed=True)
    assert done.returncode == 0, done.stderr
    assert not [call for call in calls if call.startswith("apt-get")]
    assert [call for call in calls if call.startswith("python")] == [
        f"python -m emulator.builds.base_images --cache-dir {ROOT}/.cache/builds"
    ]


def test_as_root_on_debian_it_installs_only_what_is_missing(machine):
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").is_file() else ""
    if "debian" not in os_release and "ubuntu" not in os_release:
        pytest.skip("the install branch runs only on Debian or Ubuntu")
    done, calls = machine(uid=0, installed=False)
    assert done.returncode == 0, done.stderr
    apt_calls = [call for call in calls if call.startswith("apt-get")]
    assert apt_calls == ["apt-get update -qq", f"apt-get install -y -qq --no-install-recommends {PACKAGES}"]
