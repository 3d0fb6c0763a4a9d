"""The pinned helm and kubectl that scripts/setup.d/tools.sh installs (run by `make setup`)."""

import hashlib
import os
import shutil
import subprocess

import pytest

from tests.chart.helm import ROOT

MANIFEST = ROOT / "scripts" / "tools.sha256"
TOOLS_SH = ROOT / "scripts" / "setup.d" / "tools.sh"
CACHE = ROOT / ".cache" / "tools"
VENV_BIN = ROOT / ".venv" / "bin"


def pinned():
    """{tool: row} from scripts/tools.sha256."""
    names = ("tool", "version", "requirement", "wheel", "wheel_sha256", "member", "binary_sha256")
    rows = {}
    for line in MANIFEST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            row = dict(zip(names, line.split(), strict=True))
            rows[row["tool"]] = row
    return rows


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def installed(tool):
    path = VENV_BIN / tool
    if not os.access(path, os.X_OK):
        pytest.skip(f".venv/bin/{tool} is missing: run `make setup`")
    return path


def test_manifest_pins_helm_4_and_a_kubectl_within_skew_of_1_28():
    rows = pinned()
    assert set(rows) == {"helm", "kubectl"}
    assert rows["helm"]["version"].startswith("4.")
    assert rows["kubectl"]["version"].startswith("1.28.")
    for row in rows.values():
        assert row["requirement"].count("==") == 1, "wheels are pinned to one version"
        assert len(row["wheel_sha256"]) == len(row["binary_sha256"]) == 64


@pytest.mark.parametrize(
    ("tool", "command", "expected"),
    [
        ("helm", ["version", "--short"], "v{version}+"),
        ("kubectl", ["version", "--client"], "Client Version: v{version}\n"),
    ],
)
def test_installed_binary_matches_its_checksum_and_version(tool, command, expected):
    row = pinned()[tool]
    path = installed(tool)
    assert sha256(path) == row["binary_sha256"]
    output = subprocess.run([path, *command], capture_output=True, text=True, check=True, timeout=30).stdout
    assert expected.format(version=row["version"]) in output


def run_tools_sh(venv):
    return subprocess.run(["bash", str(TOOLS_SH), str(venv)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def scratch_venv(tmp_path):
    """A virtualenv stand-in: bin/python is the project's; tools.sh installs next to it."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").symlink_to(VENV_BIN / "python")
    return tmp_path


def test_rerun_with_matching_binaries_does_nothing(scratch_venv):
    for tool in pinned():
        (scratch_venv / "bin" / tool).symlink_to(installed(tool))
    result = run_tools_sh(scratch_venv)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_tampered_binary_is_replaced_from_the_verified_wheel(scratch_venv):
    row = pinned()["kubectl"]
    if not (CACHE / row["wheel"]).is_file():
        pytest.skip(
            "the kubectl wheel is not in .cache/tools (make setup puts it there); not downloading in a test"
        )
    (scratch_venv / "bin" / "helm").symlink_to(installed("helm"))
    (scratch_venv / "bin" / "kubectl").write_text("#!/bin/sh\necho v1.28.3\n")
    (scratch_venv / "bin" / "kubectl").chmod(0o755)
    result = run_tools_sh(scratch_venv)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tools.sh: installed kubectl {row['version']} into {scratch_venv}/bin\n"
    assert sha256(scratch_venv / "bin" / "kubectl") == row["binary_sha256"]


def test_a_binary_checksum_mismatch_installs_nothing(scratch_venv, tmp_path_factory):
    """A copy of the scripts whose manifest expects another helm: the wheel's helm is refused."""
    row = pinned()["helm"]
    if not (CACHE / row["wheel"]).is_file():
        pytest.skip(
            "the helm wheel is not in .cache/tools (make setup puts it there); not downloading in a test"
        )
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "scripts", project / "scripts")
    (project / ".cache").symlink_to(ROOT / ".cache")
    manifest = project / "scripts" / "tools.sha256"
    manifest.write_text(manifest.read_text().replace(row["binary_sha256"], "0" * 64))
    result = subprocess.run(
        ["bash", str(project / "scripts" / "setup.d" / "tools.sh"), str(scratch_venv)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"has sha256 {row['binary_sha256']}, expected {'0' * 64}" in result.stderr
    assert sorted(p.name for p in (scratch_venv / "bin").iterdir()) == ["python"]
