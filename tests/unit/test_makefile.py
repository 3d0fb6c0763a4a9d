"""The README's commands on a fresh machine: `make demo` and `make test` run the set-up first when
it was never done or is out of date, and not otherwise; `make setup` always runs it.

The project's real Makefile runs in a scratch copy of the project's layout whose scripts are
stand-ins that record what ran (the real set-up takes a minute and needs PyPI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.playbook import ROOT

RECORDER = """#!/usr/bin/env bash
echo "{name} $*" >> "$RUN_LOG"
"""


@pytest.fixture
def project(tmp_path):
    """A scratch project: the real Makefile; set-up, demo and tool stand-ins that log their runs."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "requirements.txt").write_text("ansible-core==2.19.14\n")
    (tmp_path / "scripts" / "setup.d").mkdir(parents=True)
    (tmp_path / "scripts" / "tools.sha256").write_text("# tools\n")
    setup = tmp_path / "scripts" / "setup.sh"
    # The stand-in set-up makes the virtualenv's tools (stand-ins too) and the collection link.
    setup.write_text(RECORDER.format(name="setup") + """
mkdir -p .venv/bin .cache/collections/ansible_collections/tekton_cd
ln -sfn ../../../.. .cache/collections/ansible_collections/tekton_cd/pipeline
for tool in ruff ansible-lint pytest molecule; do
  printf '#!/usr/bin/env bash\\necho "%s $*" >> "$RUN_LOG"\\n' "$tool" > .venv/bin/$tool
  chmod +x .venv/bin/$tool
done
""")
    (tmp_path / "scripts" / "setup.d" / "collection.sh").write_text(RECORDER.format(name="collection"))
    (tmp_path / "scripts" / "demo.sh").write_text(RECORDER.format(name="demo"))
    (tmp_path / "scripts" / "sanity.sh").write_text(RECORDER.format(name="sanity"))
    for script in (setup, tmp_path / "scripts" / "demo.sh", tmp_path / "scripts" / "sanity.sh"):
        script.chmod(0o755)
    return tmp_path


def make(project, *targets):
    log = project / "run.log"
    log.unlink(missing_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
    env["RUN_LOG"] = str(log)
    done = subprocess.run(["make", "--no-print-directory", *targets], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def edit(project, path: Path):
    """Change `path` after the last set-up: the stamp is moved into the past first, so that the
    edit is newer whatever the file system's time resolution."""
    stamp = project / ".venv" / ".setup-done"
    earlier = time.time() - 60
    os.utime(stamp, (earlier, earlier))
    path.write_text(path.read_text() + "\n")


def test_demo_on_a_fresh_machine_sets_up_first_then_not_again(project):
    assert make(project, "demo") == ["setup", "demo"]
    assert make(project, "demo") == ["demo"]


def test_test_on_a_fresh_machine_sets_up_first_and_runs_lint_pytest_and_molecule(project):
    ran = make(project, "test")
    assert ran[0] == "setup" and ran.count("setup") == 1
    # no molecule/default here: molecule is skipped
    assert ran[1:] == ["ruff", "ansible-lint", "sanity", "pytest"]
    assert make(project, "test") == ["ruff", "ansible-lint", "sanity", "pytest"]


@pytest.mark.parametrize("changed", ["requirements.txt", "scripts/setup.sh", "scripts/tools.sha256",
                                     "scripts/setup.d/collection.sh"])
def test_a_changed_set_up_input_makes_the_next_command_set_up_again(project, changed):
    make(project, "demo")
    edit(project, project / changed)
    assert make(project, "demo") == ["setup", "demo"]
    assert make(project, "demo") == ["demo"]


def test_a_new_set_up_step_counts_as_a_change(project):
    make(project, "demo")
    step = project / "scripts" / "setup.d" / "new-tool.sh"
    step.write_text("true")
    edit(project, step)
    assert make(project, "demo") == ["setup", "demo"]


def test_setup_always_runs_and_is_safe_to_repeat(project):
    assert make(project, "setup") == ["setup"]
    assert make(project, "setup") == ["setup"]
    assert make(project, "demo") == ["demo"]


def test_a_lost_collection_link_is_made_again_without_a_full_set_up(project):
    make(project, "demo")
    shutil.rmtree(project / ".cache")
    assert make(project, "demo") == ["collection", "demo"]


def test_ci_runs_the_readme_commands():
    assert "make setup\nmake test\n" in (ROOT / ".ci" / "run").read_text()
