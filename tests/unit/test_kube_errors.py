"""API failures become one actionable sentence (kube_errors)."""

from __future__ import annotations

import json
import socket

import pytest

from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import (  # noqa: E402
    KubeError,
    describe_api_answer,
    describe_transport_failure,
    not_served,
    object_ref,
)


def status(code, reason, message, **details):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                       "reason": reason, "message": message, "details": details}).encode()


def test_object_ref_names_kind_name_and_namespace():
    assert object_ref("Namespace", "ci") == 'Namespace "ci"'
    assert object_ref("ServiceAccount", "builder", "ci") == 'ServiceAccount "builder" in namespace "ci"'
    assert object_ref("Secret", namespace="ci") == 'Secret objects in namespace "ci"'


def test_401_points_at_the_credentials():
    error = describe_api_answer(401, status(401, "Unauthorized", "Unauthorized"), action="read",
                                target='Namespace "ci"')
    assert error.msg.startswith('Could not read Namespace "ci": the API server answered 401 Unauthorized')
    assert "credentials were refused" in error.msg and "token" in error.msg
    assert error.status == 401 and error.msg.count(".") >= 1 and "\n" not in error.msg


def test_403_repeats_who_lacks_which_verb_and_says_how_to_grant_it():
    message = ('namespaces is forbidden: User "system:serviceaccount:ci:deployer" cannot create resource '
               '"namespaces" in API group "" at the cluster scope')
    error = describe_api_answer(403, status(403, "Forbidden", message, kind="namespaces"), action="apply",
                                target='Namespace "ci"')
    assert message in error.msg
    assert "Role/ClusterRole" in error.msg
    assert error.msg.endswith(".")


def test_bare_404_means_the_api_group_is_not_served_and_names_the_component():
    error = describe_api_answer(404, b"404 page not found\n", action="apply", target='Task "build"',
                                api_version="tekton.dev/v1", kind="Task")
    assert error.msg == ("The API server does not serve Task in tekton.dev/v1; install Tekton Pipelines "
                         "on the cluster (or point the kubeconfig at a cluster that has it).")
    unknown = not_served("example.com/v1", "Widget")
    assert "example.com" in unknown.msg and "install the component" in unknown.msg


def test_404_of_a_missing_namespace_says_to_create_it():
    body = status(404, "NotFound", 'namespaces "ci" not found', name="ci", kind="namespaces")
    error = describe_api_answer(404, body, action="apply", target='ServiceAccount "b" in namespace "ci"')
    assert 'create namespace "ci" first' in error.msg


def test_409_of_server_side_apply_suggests_force_conflicts_and_is_not_a_stale_write():
    body = json.dumps({
        "kind": "Status", "code": 409, "reason": "Conflict",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl" using v1: .metadata.labels.team',
        "details": {"causes": [{"reason": "FieldManagerConflict",
                                "message": 'conflict with "kubectl" using v1',
                                "field": ".metadata.labels.team"}]},
    })
    error = describe_api_answer(409, body, action="apply", target='Namespace "ci"')
    assert "force_conflicts: true" in error.msg and ".metadata.labels.team" in error.msg
    assert error.reason == "FieldManagerConflict"


def test_409_already_exists_and_422_invalid():
    exists = describe_api_answer(409, status(409, "AlreadyExists", 'namespaces "ci" already exists'),
                                 action="create", target='Namespace "ci"')
    assert "already exists" in exists.msg and exists.reason == "AlreadyExists"
    invalid = describe_api_answer(422, status(422, "Invalid", 'Namespace "Bad" is invalid: metadata.name'),
                                  action="apply", target='Namespace "Bad"')
    assert "metadata.name" in invalid.msg and "fix the definition" in invalid.msg


def test_overload_after_retries_says_how_often():
    error = describe_api_answer(503, b"", action="list", target="Secret objects", attempts=5)
    assert "503 Service Unavailable 5 times in a row" in error.msg
    assert error.retriable


def test_connection_refused_names_the_url_tried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError as exc:
        error = describe_transport_failure(exc, action="read", target='Namespace "ci"',
                                           url=f"https://127.0.0.1:{port}")
    else:
        pytest.fail("nothing should listen on a just-released port")
    assert error.msg == (f'Could not read Namespace "ci": the connection to https://127.0.0.1:{port} was '
                         "refused; check that the API server is running and that the kubeconfig/host "
                         "points at it.")


def test_tls_failure_points_at_ca_cert():
    import ssl

    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    error = describe_transport_failure(exc, action="read", target='Namespace "ci"', url="https://127.0.0.1:6443")
    assert "ca_cert" in error.msg and "CERTIFICATE_VERIFY_FAILED" in error.msg


def test_invalid_input_sentence():
    error = KubeError.invalid("name", "'A' is not valid", "use lowercase")
    assert error.msg == "Invalid value for option 'name': 'A' is not valid; use lowercase."
