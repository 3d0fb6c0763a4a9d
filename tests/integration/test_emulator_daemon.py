"""emulator.daemon, the detached-server logic both command lines share: which pid counts as
our running server, and a refused start that starts nothing. (Start, ready, already running and
stop are run through both command lines in tests/conformance/test_emulator_controls.py and
tests/integration/test_provision.py.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from emulator.daemon import Daemon


def daemon(module):
    return Daemon(label="test server", module=module, pid_file="pid", log_file="server.log",
                  state_files=("pid", "url"))


@pytest.fixture
def stand_in(tmp_path):
    """A process (not a server) whose command line holds "emulator.ibmcloud" as an argument. It says
    when it runs: until the child has exec'd, /proc shows the parent's command line instead."""
    waits_for_stdin = "import sys; print('up', flush=True); sys.stdin.read()"
    process = subprocess.Popen([sys.executable, "-c", waits_for_stdin, "emulator.ibmcloud"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "up\n"
    yield process
    process.stdin.close()
    process.wait(timeout=10)


def test_only_a_pid_running_that_module_counts(tmp_path, stand_in):
    (tmp_path / "pid").write_text(f"{stand_in.pid}\n")
    assert daemon("emulator.ibmcloud").running_pid(tmp_path) == stand_in.pid
    # A prefix of its module is not its module: the cluster's command line must not take it for its own.
    assert daemon("emulator").running_pid(tmp_path) is None


def test_a_stale_or_garbled_pid_file_is_no_server(tmp_path, capsys):
    gone = subprocess.Popen([sys.executable, "-c", "pass", "emulator"])
    gone.wait(timeout=10)
    (tmp_path / "pid").write_text(f"{gone.pid}\n")
    assert daemon("emulator").running_pid(tmp_path) is None
    (tmp_path / "pid").write_text("not a pid\n")
    assert daemon("emulator").running_pid(tmp_path) is None
    assert daemon("emulator").stop(tmp_path) == 0
    assert capsys.readouterr().out == f"no test server running from {tmp_path}\n"


def test_a_refused_start_says_why_and_starts_nothing(tmp_path, capsys):
    state = tmp_path / "state"
    answer = daemon("emulator").start(
        state, [], ready=lambda: pytest.fail("nothing was started, so nothing can be ready"),
        ready_message=str, running_message=str, refusal=lambda: "no kubeconfig; start the cluster first")
    assert answer == 1
    assert capsys.readouterr().err == "no kubeconfig; start the cluster first\n"
    assert not (state / "server.log").exists() and not (state / "pid").exists()
