"""The README's first command on a fresh machine: `git clone` this checkout (its committed HEAD)
into an empty directory and run `make demo` there. The clone's Makefile sees no set-up stamp and
runs the set-up itself, then the demo runs the whole flow. Its output must show a succeeded
PipelineRun whose built images are in the registry and are the ones deployed, a second
provisioning run with changed=0 and zero writes, and afterwards nothing of it may be left running
(no process of the clone, no port of its cluster, fake IBM Cloud or registry answering).

To keep the test's time reasonable, the clone's set-up reuses this checkout's helm/kubectl wheels
and base-image archives through scripts/setup.sh's documented TEKTON_CD_SETUP_REUSE; its virtualenv
and buildah storage are its own. It costs a set-up plus a demo (~2-4 min on a shared 2-core machine).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.playbook import ROOT

DEMO_TIMEOUT_SECONDS = 1200


def _run_streaming(argv, cwd, env, timeout):
    """Runs argv, returning its output and when (seconds from the start) each line came."""
    started = time.monotonic()
    lines = []
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        for line in process.stdout:
            lines.append((time.monotonic() - started, line.rstrip("\n")))
            if time.monotonic() - started > timeout:
                process.kill()
                raise AssertionError(f"{' '.join(argv)} ran longer than {timeout} s:\n"
                                     + "\n".join(text for _, text in lines[-40:]))
        return process.wait(), lines, time.monotonic() - started


def _answers(host_port: str) -> bool:
    host, port = host_port.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def _processes_under(path: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in command:
            found.append(f"{entry.name}: {command.strip()}")
    return found


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    target = tmp_path_factory.mktemp("fresh-clone") / "tekton-cd"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    cloned = subprocess.run(["git", "rev-parse", "HEAD"], cwd=target, capture_output=True, text=True,
                            check=True)
    assert cloned.stdout == head.stdout
    assert not (target / ".venv").exists() and not (target / ".cache").exists()
    yield target
    # A virtualenv and a buildah storage (~1 GB): not kept with pytest's last temporary directories.
    shutil.rmtree(target, ignore_errors=True)


@pytest.mark.fresh_clone
def test_make_demo_in_a_fresh_clone_runs_the_whole_flow_and_leaves_nothing_running(clone):
    # The clone starts from the environment a newcomer has: nothing of this checkout's virtualenv.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("VIRTUAL_ENV", "ANSIBLE_", "MOLECULE_", "K8S_AUTH_", "TEKTON_CD_", "IC_",
                                  "IBMCLOUD_", "PYTEST_"))}
    bin_dir = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir)
    env["TEKTON_CD_SETUP_REUSE"] = str(ROOT)

    code, lines, took = _run_streaming(["make", "demo"], clone, env, DEMO_TIMEOUT_SECONDS)
    output = "\n".join(text for _, text in lines)
    setup_done = next((at for at, text in lines if text.startswith("setup: ready")), None)
    # What it cost (shown with pytest -s): the set-up's lines with their times, then the total.
    for at, text in lines:
        if setup_done is not None and at <= setup_done:
            print(f"fresh clone: {at:6.1f} s  {text}")
    print(f"fresh clone: set-up {setup_done or 0:.0f} s, whole `make demo` {took:.0f} s")
    assert code == 0, output[-6000:]
    assert setup_done is not None, "the clone's `make demo` did not run the set-up first:\n" + output[:3000]
    assert (clone / ".venv" / ".setup-done").exists()

    runs = re.findall(r"^  pipeline run: +(\S+) (\S+)$", output, re.MULTILINE)
    assert len(runs) == 1 and runs[0][1] == "Succeeded", output[-4000:]

    built = dict(re.findall(r"^  built by build-([a-z-]+): +(\S+@sha256:[0-9a-f]{64}) \(in the registry\)$",
                            output, re.MULTILINE))
    assert sorted(built) == ["api", "database-migration", "frontend"], output[-4000:]
    deployed = dict(re.findall(r"^  (?:deployment|statefulset) health/health-([a-z-]+): +(\S+)$", output,
                               re.MULTILINE))
    # The migration runs as a Helm hook Job that is deleted once it succeeded: api and frontend run on.
    assert deployed["api"] == built["api"] and deployed["frontend"] == built["frontend"], output[-4000:]
    assert re.fullmatch(r"127\.0\.0\.1:\d+/library/postgres@sha256:[0-9a-f]{64}", deployed["postgres"])

    second = re.search(r"^Second provisioning run: (demo : .*)$", output, re.MULTILINE)
    assert second, output[-3000:]
    recap = second.group(1)
    assert re.search(r"\bchanged=0\b", recap) and re.search(r"\bfailed=0\b", recap), recap
    writes = re.search(r"^Writes to the cluster during the second run: (\d+)", output, re.MULTILINE)
    assert writes and writes.group(1) == "0", output[-3000:]

    # Nothing left: no process of the clone, and none of the addresses the demo used answers: those
    # in its output and in what its servers left in the state directory (kubeconfig, logs, the
    # registry's configuration; the files naming a running server's address go when it stops).
    assert _processes_under(clone) == []
    state = clone / ".cache" / "demo"
    texts = [output] + [path.read_text(errors="replace") for path in state.rglob("*")
                        if path.is_file() and path.suffix in ("", ".log", ".yml", ".json", ".env")
                        and path.stat().st_size < 1_000_000]
    addresses = sorted({address for text in texts for address in re.findall(r"127\.0\.0\.1:\d+", text)})
    kubeconfig = yaml.safe_load((state / "cluster" / "kubeconfig").read_text())
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    registry = re.search(r"registry (127\.0\.0\.1:\d+) \(plain HTTP\)", output).group(1)
    assert server.split("//", 1)[1] in addresses and registry in addresses
    assert [address for address in addresses if _answers(address)] == [], addresses
