"""The emulator's OpenShift flavour: project.openshift.io served over namespaces. Emulator only;
the shapes follow OpenShift's documented project API (no OpenShift server was available to compare)."""

import pytest

from tests.conformance.helpers import RawApi, token_of

pytestmark = pytest.mark.emulator_only
PROJECTS = "/apis/project.openshift.io/v1"


@pytest.fixture(scope="module")
def oc(openshift_emulator):
    return RawApi(
        openshift_emulator.server, openshift_emulator.ca_pem, token_of(openshift_emulator.kubeconfig_dict)
    )


def test_project_api_is_discovered(oc, openshift_emulator):
    status, body = oc.get(PROJECTS)
    assert status == 200
    assert {r["name"]: r["verbs"] for r in body["resources"]} == {
        "projects": ["create", "delete", "get", "list", "patch", "update", "watch"],
        "projectrequests": ["create", "list"],
    }
    client = openshift_emulator.dynamic_client()
    assert (
        client.resources.get(api_version="project.openshift.io/v1", kind="ProjectRequest").name
        == "projectrequests"
    )


def test_project_request_creates_an_annotated_namespace(oc):
    status, project = oc.post(
        f"{PROJECTS}/projectrequests",
        {
            "apiVersion": "project.openshift.io/v1",
            "kind": "ProjectRequest",
            "metadata": {"name": "demo"},
            "displayName": "Demo",
            "description": "the demo project",
        },
    )
    assert status == 201
    assert project["kind"] == "Project" and project["apiVersion"] == "project.openshift.io/v1"
    assert project["status"] == {"phase": "Active"}
    namespace = oc.get("/api/v1/namespaces/demo")[1]
    assert namespace["metadata"]["annotations"] == {
        "openshift.io/description": "the demo project",
        "openshift.io/display-name": "Demo",
        "openshift.io/requester": "kubernetes-admin",
    }
    assert oc.get(f"{PROJECTS}/projects/demo")[1]["metadata"]["uid"] == namespace["metadata"]["uid"]
    status, body = oc.post(f"{PROJECTS}/projectrequests", {"metadata": {"name": "demo"}})
    assert status == 409 and body["message"] == 'project.project.openshift.io "demo" already exists'
    listed = oc.get(f"{PROJECTS}/projects")[1]
    assert listed["kind"] == "ProjectList" and "demo" in [p["metadata"]["name"] for p in listed["items"]]
    status, _ = oc.merge_patch(f"{PROJECTS}/projects/demo", {"metadata": {"labels": {"team": "a"}}})
    assert status == 200 and oc.get("/api/v1/namespaces/demo")[1]["metadata"]["labels"]["team"] == "a"
    status, body = oc.delete(f"{PROJECTS}/projects/demo")
    assert status == 200 and body["status"] == "Success"
    assert oc.wait_until(lambda: oc.get("/api/v1/namespaces/demo")[0] == 404)
    assert oc.get(f"{PROJECTS}/projects/demo")[0] == 404


def test_plain_clusters_do_not_serve_projects(api):
    assert api.get(PROJECTS) == (404, "404 page not found\n")
