"""OpenShift's project API (project.openshift.io/v1), served when the emulator plays an OpenShift
cluster: a Project is a view of a Namespace, and a ProjectRequest creates one.

Shapes follow OpenShift 4's project API as documented (not compared with a live OpenShift server:
none is reachable from here). Writes to projects go to the underlying namespace.
"""

from __future__ import annotations

import copy

from emulator.kube import exceptions
from emulator.kube.builtin_rules import validate_name
from emulator.kube.models import ClusterState, RequestContext
from emulator.kube.resources import ResourceType

GROUP = "project.openshift.io"
API_VERSION = f"{GROUP}/v1"
DISPLAY_NAME = "openshift.io/display-name"
DESCRIPTION = "openshift.io/description"
REQUESTER = "openshift.io/requester"


def resource_types() -> list[ResourceType]:
    return [
        ResourceType(
            GROUP,
            "v1",
            "projects",
            "Project",
            False,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        ),
        ResourceType(
            GROUP, "v1", "projectrequests", "ProjectRequest", False, verbs=("create", "list"), virtual=True
        ),
    ]


def _namespaces(state: ClusterState) -> ResourceType:
    return state.rtype("", "v1", "namespaces")


def as_project(namespace: dict) -> dict:
    project = copy.deepcopy(namespace)
    project["kind"], project["apiVersion"] = "Project", API_VERSION
    return project


def get(state: ClusterState, name: str) -> dict:
    try:
        return as_project(state.get(_namespaces(state), "", name))
    except exceptions.ApiError as error:
        if error.code == 404:
            raise exceptions.not_found("projects", GROUP, name) from None
        raise


def list_projects(state: ClusterState, label_selector: str | None, field_selector: str | None) -> dict:
    listing = state.list(_namespaces(state), "", label_selector, field_selector)
    return {
        "kind": "ProjectList",
        "apiVersion": API_VERSION,
        "metadata": listing["metadata"],
        "items": [as_project({**item, "kind": "Namespace", "apiVersion": "v1"}) for item in listing["items"]],
    }


def request(state: ClusterState, body: dict, ctx: RequestContext) -> dict:
    """POST projectrequests: a namespace annotated with display name, description and requester."""
    if not isinstance(body, dict):
        raise exceptions.bad_request("the body of the request was in an unknown format")
    name = (body.get("metadata") or {}).get("name", "")
    if not name:
        raise exceptions.invalid(
            "ProjectRequest", GROUP, "", [exceptions.FieldError.required("metadata.name")]
        )
    errors = validate_name("Namespace", name)
    if errors:
        raise exceptions.invalid("ProjectRequest", GROUP, name, errors)
    if state.find(_namespaces(state), "", name) is not None:
        raise exceptions.already_exists("project", GROUP, name)
    annotations = {
        DESCRIPTION: body.get("description", ""),
        DISPLAY_NAME: body.get("displayName", ""),
        REQUESTER: ctx.identity.user,
    }
    namespace = state.create(
        _namespaces(state),
        "",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "annotations": annotations}},
        ctx,
    )
    return as_project(namespace)


def delete(state: ClusterState, name: str, ctx: RequestContext) -> dict:
    get(state, name)
    state.delete(_namespaces(state), "", name, ctx)
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": GROUP, "kind": "projects"},
    }


def to_namespace_body(body):
    """A Project body rewritten as the Namespace it stands for."""
    if isinstance(body, dict):
        body = dict(body)
        body["apiVersion"], body["kind"] = "v1", "Namespace"
    return body
