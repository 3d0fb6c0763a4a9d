"""The emulator's test controls (faults, latency, request log) and its command line. Emulator only."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conformance.helpers import RawApi

pytestmark = pytest.mark.emulator_only
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_injected_429_and_500_answer_status_objects(api, emulator, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    emulator.controls.fail_next(verb="POST", path=r"/configmaps$", status=429, count=2)
    emulator.controls.fail_next(verb="GET", path=r"/configmaps$", status=500)
    first = api.session.post(api.server + path, json={"metadata": {"name": "f"}}, verify=str(api.ca_file))
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert first.json()["reason"] == "TooManyRequests"
    assert api.post(path, {"metadata": {"name": "f"}})[0] == 429
    assert api.post(path, {"metadata": {"name": "f"}})[0] == 201  # the fault was used up
    status, body = api.get(path)
    assert status == 500 and body["reason"] == "InternalError"
    assert api.get(path)[0] == 200


def test_injected_connection_reset(api, emulator, namespace):
    emulator.controls.fail_next(verb="DELETE", path=f"/namespaces/{namespace}/configmaps/x", status="reset")
    with pytest.raises(requests.ConnectionError):
        api.delete(f"/api/v1/namespaces/{namespace}/configmaps/x")
    assert api.delete(f"/api/v1/namespaces/{namespace}/configmaps/x")[0] == 404


def test_latency(api, emulator):
    emulator.controls.set_latency(0.2)
    started = time.monotonic()
    api.get("/version")
    assert time.monotonic() - started >= 0.2
    emulator.controls.set_latency(0)


def test_request_log_counts_reads_and_writes(api, namespace, emulator):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.post(path, {"metadata": {"name": "counted"}})
    api.get(path + "/counted")
    api.get(path, labelSelector="a=b")
    api.merge_patch(path + "/counted", {"data": {"a": "1"}}, dryRun="All")
    assert emulator.controls.requests() == [
        ("POST", path, ""),
        ("GET", path + "/counted", ""),
        ("GET", path, "labelSelector=a%3Db"),
        ("PATCH", path + "/counted", "dryRun=All"),
    ]
    assert [r[0] for r in emulator.controls.writes()] == ["POST", "PATCH"]
    emulator.controls.reset()
    assert emulator.controls.requests() == []


def test_bad_fault_settings_are_refused(emulator):
    with pytest.raises(ValueError, match="fault status 404"):
        emulator.controls.fail_next(status=404)
    with pytest.raises(ValueError, match="at least 1"):
        emulator.controls.fail_next(count=0)


def test_controls_over_http_need_the_admin(api, as_token, emulator):
    assert api.post("/_emulator/faults", {"verb": "GET", "path": "^/version$", "status": 500})[0] == 201
    assert api.get("/version")[0] == 500
    api.get("/api")
    status, log = api.get("/_emulator/requests")
    assert status == 200 and log[-2:] == [["GET", "/version", ""], ["GET", "/api", ""]]
    assert api.get("/_emulator/writes") == (200, [])
    assert api.post("/_emulator/reset", {})[0] == 200
    assert api.get("/_emulator/requests") == (200, [])
    user = as_token(emulator.add_token("jane", ["devs"]))
    status, body = user.get("/_emulator/requests")
    assert status == 403 and body["message"] == 'forbidden: User "jane" cannot get path "/_emulator/requests"'
    assert api.get("/_emulator/nothing")[0] == 404


def test_pod_logs_come_from_the_emulator(api, emulator, namespace):
    api.wait_until(lambda: api.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/default")[0] == 200)
    pods = f"/api/v1/namespaces/{namespace}/pods"
    api.post(pods, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "step", "image": "x"}]}})
    status, body = api.get(pods + "/p/log")
    assert (
        status == 400
        and body["message"] == 'container "step" in pod "p" is waiting to start: ContainerCreating'
    )
    emulator.set_pod_log(namespace, "p", "built\n")
    assert api.get(pods + "/p/log") == (200, "built\n")
    assert api.call("PUT", f"/_emulator/pods/{namespace}/p/log", "again\n", "text/plain")[0] == 200
    assert api.get(pods + "/p/log", container="step") == (200, "again\n")


def test_command_line_start_and_stop(tmp_path):
    state = tmp_path / "state"
    run = [sys.executable, "-m", "emulator"]
    started = subprocess.run(
        [*run, "start", "--state-dir", str(state)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    try:
        assert (state / "kubeconfig").stat().st_mode & 0o777 == 0o600
        kubeconfig = yaml.safe_load((state / "kubeconfig").read_text())
        url = (state / "url").read_text().strip()
        assert kubeconfig["clusters"][0]["cluster"]["server"] == url
        token = kubeconfig["users"][0]["user"]["token"]
        remote = RawApi(url, (state / "ca.crt").read_text(), token)
        assert remote.get("/api/v1/namespaces/default")[0] == 200
        again = subprocess.run(
            [*run, "start", "--state-dir", str(state)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0 and "already running" in again.stdout
    finally:
        stopped = subprocess.run(
            [*run, "stop", "--state-dir", str(state)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert stopped.returncode == 0, stopped.stderr
    assert not (state / "pid").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/version", verify=str(state / "ca.crt"), timeout=5)
