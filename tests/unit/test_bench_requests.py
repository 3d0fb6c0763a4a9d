"""How the benchmark names the requests it counts (docs/benchmarks.md, 'Requests and writes')."""

from __future__ import annotations

import pytest

from benchmarks.harness import RunRecord, task_times
from benchmarks.requests_log import Request, categorize, kinds_read_per_object, summarize


@pytest.mark.parametrize(
    ("verb", "path", "query", "expected"),
    [
        ("GET", "/api", "", "discovery"),
        ("GET", "/apis/rbac.authorization.k8s.io/v1", "", "discovery"),
        ("GET", "/openapi/v2", "timeout=32s", "discovery"),
        ("GET", "/swagger-2.0.0.pb-v1", "", "discovery"),
        ("GET", "/api/v1/namespaces", "", "list"),
        ("GET", "/api/v1/namespaces/ci", "", "get"),
        ("GET", "/api/v1/namespaces/ci/serviceaccounts", "labelSelector=a%3Db", "list"),
        ("GET", "/api/v1/namespaces/ci/serviceaccounts/builder", "", "get"),
        ("GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/app/roles", "watch=true", "watch"),
        ("PATCH", "/api/v1/namespaces/ci", "fieldManager=kubectl", "patch"),
        ("POST", "/api/v1/namespaces/ci/serviceaccounts/deployer/token", "", "create"),
        ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "", "review"),
        ("PUT", "/api/v1/namespaces/ci/secrets/s", "", "update"),
        ("DELETE", "/api/v1/namespaces/ci", "", "delete"),
        ("GET", "/healthz", "", "other"),
    ],
)
def test_categories(verb, path, query, expected):
    assert categorize(verb, path, query) == expected


def test_writes_leave_out_reviews_and_dry_runs():
    requests = [
        Request(0, "PATCH", "/api/v1/namespaces/ci", "fieldManager=x"),
        Request(0, "PATCH", "/api/v1/namespaces/ci", "dryRun=All&fieldManager=x"),
        Request(0, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews"),
        Request(0, "POST", "/api/v1/namespaces/ci/serviceaccounts/deployer/token"),
        Request(0, "GET", "/api/v1/namespaces/ci"),
    ]
    summary = summarize(requests)
    assert summary.writes == 2 and summary.total == 5
    assert summary.describe() == "5: 1 get, 1 create, 2 patch, 1 review"
    assert summary.without_reviews() == 4


def test_a_task_owns_the_requests_received_while_it_ran_and_its_overhead_is_the_rest():
    profile = [
        {
            "event": "task",
            "task": "r : one",
            "action": "tekton_cd.pipeline.k8s_rbac",
            "status": "ok",
            "start": 10.0,
            "end": 10.5,
        },
        {
            "event": "task",
            "task": "r : two",
            "action": "ansible.builtin.debug",
            "status": "ok",
            "start": 10.6,
            "end": 10.7,
        },
    ]
    requests = [
        Request(10.1, "GET", "/api/v1/namespaces/a"),
        Request(10.3, "PATCH", "/api/v1/namespaces/a"),
        Request(10.8, "GET", "/api/v1/namespaces/b"),
    ]
    record = RunRecord("x", "first", 1, 1.0, 0, 9.5, 11.0, requests, profile)
    one, two = task_times(record)
    assert (one.requests, two.requests) == (2, 0)
    assert one.overhead == pytest.approx(0.3)


def test_reading_object_by_object_is_told_apart_from_one_get_of_a_kinds_only_object():
    requests = [Request(0, "GET", path) for path in (
        "/api/v1/namespaces/ci/secrets/a",
        "/api/v1/namespaces/app/secrets/b",  # another namespace, the same kind
        "/api/v1/namespaces/ci/serviceaccounts",  # a LIST
        "/api/v1/namespaces/ci/serviceaccounts/deployer",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
        "/api/v1/namespaces/ci",
        "/version",
    )]
    assert kinds_read_per_object(requests) == {"secrets": 2}
    assert kinds_read_per_object(requests[2:]) == {}
