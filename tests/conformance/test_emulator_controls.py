"""The emulator's test controls (faults, latency, request log) and its command line. Emulator only."""

import json
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


def test_writes_since_reset_count_writes_and_mark_dry_run_and_reviews(api, as_token, namespace, emulator):
    """The "writes since reset" query: every POST / PUT / PATCH / DELETE with who sent it and the
    answer's status; dry-run requests and reviews (which store nothing) are listed but not counted."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    jane = as_token(emulator.add_token("jane", ["devs"]))
    api.get(path)  # reads are not writes
    assert api.post(path, {"metadata": {"name": "w"}})[0] == 201
    assert api.merge_patch(path + "/w", {"data": {"a": "1"}}, dryRun="All")[0] == 200
    review = {"spec": {"user": "jane", "resourceAttributes": {"verb": "get", "resource": "pods"}}}
    assert api.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", review)[0] == 201
    assert jane.delete(path + "/w")[0] == 403
    assert api.delete(path + "/w", {"dryRun": ["All"]})[0] == 200
    assert api.delete(path + "/w")[0] == 200
    report = emulator.controls.writes_since_reset()
    assert report == {
        "count": 3,
        "writes": [
            {"method": "POST", "path": path, "user": "kubernetes-admin", "status": 201, "kind": "write"},
            {
                "method": "PATCH",
                "path": path + "/w",
                "user": "kubernetes-admin",
                "status": 200,
                "kind": "dry-run",
            },
            {
                "method": "POST",
                "path": "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                "user": "kubernetes-admin",
                "status": 201,
                "kind": "query",
            },
            {"method": "DELETE", "path": path + "/w", "user": "jane", "status": 403, "kind": "write"},
            {
                "method": "DELETE",
                "path": path + "/w",
                "user": "kubernetes-admin",
                "status": 200,
                "kind": "dry-run",
            },
            {
                "method": "DELETE",
                "path": path + "/w",
                "user": "kubernetes-admin",
                "status": 200,
                "kind": "write",
            },
        ],
    }
    assert api.get("/_emulator/writes-since-reset") == (200, report)
    emulator.controls.fail_next(verb="PUT", path=r"/configmaps/x$", status=429)
    api.put(path + "/x", {"metadata": {"name": "x"}})
    assert emulator.controls.writes_since_reset()["writes"][-1] == {
        "method": "PUT",
        "path": path + "/x",
        "user": "",
        "status": 429,
        "kind": "write",
    }
    assert api.post("/_emulator/reset", {})[0] == 200
    assert api.get("/_emulator/writes-since-reset") == (200, {"count": 0, "writes": []})
    assert jane.get("/_emulator/writes-since-reset")[0] == 403


def test_command_line_writes_verb(tmp_path):
    """python -m emulator writes: the query over the control endpoint, as text or JSON, with --reset."""
    state = tmp_path / "state"
    run = [sys.executable, "-m", "emulator"]

    def cli(*args):
        return subprocess.run(
            [*run, *args, "--state-dir", str(state)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    not_running = cli("writes")
    assert not_running.returncode == 1
    assert (
        not_running.stderr
        == f"no emulated cluster to ask: no emulated cluster is running from {state}; start it first\n"
    )
    assert cli("start").returncode == 0
    try:
        kubeconfig = yaml.safe_load((state / "kubeconfig").read_text())
        remote = RawApi(
            kubeconfig["clusters"][0]["cluster"]["server"],
            (state / "ca.crt").read_text(),
            kubeconfig["users"][0]["user"]["token"],
        )
        configmaps = "/api/v1/namespaces/default/configmaps"
        assert remote.post(configmaps, {"metadata": {"name": "one"}})[0] == 201
        assert remote.post(configmaps, {"metadata": {"name": "two"}}, dryRun="All")[0] == 201
        as_json = cli("writes", "--json")
        assert as_json.returncode == 0, as_json.stderr
        assert json.loads(as_json.stdout) == {
            "count": 1,
            "writes": [
                {
                    "method": "POST",
                    "path": configmaps,
                    "user": "kubernetes-admin",
                    "status": 201,
                    "kind": "write",
                },
                {
                    "method": "POST",
                    "path": configmaps,
                    "user": "kubernetes-admin",
                    "status": 201,
                    "kind": "dry-run",
                },
            ],
        }
        as_text = cli("writes", "--reset")
        assert as_text.returncode == 0, as_text.stderr
        assert as_text.stdout.splitlines() == [
            "1 write since reset; not counted: 1 dry-run",
            f"  POST   {configmaps}  user=kubernetes-admin  201",
        ]
        assert cli("writes").stdout == "0 writes since reset\n"
    finally:
        assert cli("stop").returncode == 0
