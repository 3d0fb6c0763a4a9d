#!/usr/bin/python
"""Ansible module k8s_namespace: a namespace (an OpenShift Project on OpenShift), present or absent."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_namespace
short_description: Ensure a Kubernetes namespace (an OpenShift Project on OpenShift) is present or absent
description:
  - Creates, updates or deletes a namespace (O(name)) or several (O(namespaces)) with their labels
    and annotations, by server-side apply with the field manager C(tekton-cd).
  - On a cluster that serves the C(project.openshift.io) API, a missing namespace is created as an
    OpenShift Project through a ProjectRequest (with O(display_name) and O(description)), and is
    managed like any namespace afterwards (labels and annotations are applied to the Namespace
    object, which takes rights on namespaces, as a cluster administrator has).
  - The live state is read with one request per run (a GET for one namespace, a LIST for several,
    narrowed to the labels they all carry, so that it does not return every namespace of the
    cluster), and a run that would change nothing sends no write to the API server.
  - Names, labels and annotations are checked before anything is sent.
version_added: "0.1.0"
author: tekton-cd maintainers (@tekton-cd)
options:
  name:
    description:
      - Name of the namespace, a lowercase RFC 1123 label (at most 63 characters of C(a-z), C(0-9)
        and C(-), starting and ending with a letter or digit).
      - Exactly one of O(name) and O(namespaces) is required.
    type: str
  state:
    description:
      - Whether the namespace should exist.
      - C(absent) on a missing namespace changes nothing.
    type: str
    choices: [present, absent]
    default: present
  labels:
    description:
      - Labels this task manages on the namespace (string values).
      - Labels set by this task earlier and no longer listed are removed; labels set by others are
        left alone.
    type: dict
  annotations:
    description:
      - Annotations this task manages on the namespace (string values), with the same rules as
        O(labels).
    type: dict
  display_name:
    description:
      - Human-readable name, stored as the C(openshift.io/display-name) annotation (the Project's
        display name on OpenShift).
    type: str
  description:
    description:
      - Description, stored as the C(openshift.io/description) annotation (the Project's
        description on OpenShift).
    type: str
  namespaces:
    description:
      - Several namespaces in one task; each element takes the single-namespace options. Cannot be
        combined with O(name), O(labels), O(annotations), O(display_name) or O(description).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the namespace, as O(name).
        type: str
        required: true
      labels:
        description: Labels, as O(labels).
        type: dict
      annotations:
        description: Annotations, as O(annotations).
        type: dict
      display_name:
        description: Display name, as O(display_name).
        type: str
      description:
        description: Description, as O(description).
        type: str
  wait:
    description:
      - With O(state=present), wait until the namespace is C(Active).
      - With O(state=absent), wait until the namespace is finalized and gone, so that a namespace of
        the same name can be created right after.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait (see O(wait)) before failing.
    type: int
    default: 120
  force_conflicts:
    description:
      - Take over labels or annotations that another field manager set to a different value,
        instead of failing.
    type: bool
    default: false
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description: Sends every write with C(dryRun=All), so the API server validates it and stores nothing.
  diff_mode:
    support: full
    description: Shows the namespace before and after, without server-maintained fields.
"""

EXAMPLES = r"""
- name: Ensure the pipeline's namespace exists, labelled for the pipeline
  tekton_cd.pipeline.k8s_namespace:
    name: health-ci
    labels:
      app.kubernetes.io/part-of: tekton-cd
    display_name: Health CI
    description: Builds and deploys OpenStack Health

- name: Ensure the pipeline's and the application's namespaces in one request round
  tekton_cd.pipeline.k8s_namespace:
    namespaces:
      - name: health-ci
        labels: {app.kubernetes.io/part-of: tekton-cd}
      - name: health
        labels: {app.kubernetes.io/part-of: tekton-cd}

- name: Remove the namespace and wait until it is finalized
  tekton_cd.pipeline.k8s_namespace:
    name: health-ci
    state: absent
    wait_timeout: 300

- name: Use a kubeconfig returned by ibmcloud_cluster_config
  tekton_cd.pipeline.k8s_namespace:
    name: health-ci
    kubeconfig: "{{ cluster.kubeconfig }}"
"""

RETURN = r"""
result:
  description:
    - The namespace as the API server returned it, without C(metadata.managedFields).
    - Empty after O(state=absent).
  returned: when O(name) is given
  type: dict
  sample:
    apiVersion: v1
    kind: Namespace
    metadata:
      name: health-ci
      labels: {app.kubernetes.io/part-of: tekton-cd, kubernetes.io/metadata.name: health-ci}
      resourceVersion: "4711"
      uid: 1f0c3c1e-5a70-4c3c-9d43-2f7f4c0b9a11
    status: {phase: Active}
results:
  description: One entry per element of O(namespaces), in order, each like RV(result).
  returned: when O(namespaces) is given
  type: list
  elements: dict
openshift_project:
  description:
    - Whether the namespace was created as an OpenShift Project (ProjectRequest) by this run; with
      O(namespaces), whether any of them was.
  returned: always
  type: bool
  sample: false
diff:
  description:
    - The namespace before and after (with C(--diff)), without server-maintained fields; a list with
      one entry per namespace when O(namespaces) is given.
  returned: always
  type: raw
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at, requested  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_annotations,
    check_labels,
    check_namespace_name,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    changes_result,
    connect_service,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change, strip_none  # noqa: E402

NAMESPACE_OPTIONS = {
    "labels": {"type": "dict"},
    "annotations": {"type": "dict"},
    "display_name": {"type": "str"},
    "description": {"type": "str"},
}
ARGUMENT_SPEC = {
    "name": {"type": "str"},
    **NAMESPACE_OPTIONS,
    "namespaces": {
        "type": "list", "elements": "dict",
        "options": {"name": {"type": "str", "required": True}, **NAMESPACE_OPTIONS},
    },
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 120},
    "force_conflicts": {"type": "bool", "default": False},
}

PROJECT_API = "project.openshift.io/v1"
DISPLAY_NAME = "openshift.io/display-name"
DESCRIPTION = "openshift.io/description"


def validate(params, items):
    """Every input problem, found before any API call; raises KubeError with the first."""
    seen = set()
    for where, item in items:
        check_namespace_name(option_at(where, "name"), item["name"])
        if item["name"] in seen:
            raise KubeError.invalid(option_at(where, "name"), f"namespace {item['name']!r} is listed twice",
                                    "list each namespace once")
        seen.add(item["name"])
        check_labels(option_at(where, "labels"), item.get("labels"))
        check_annotations(option_at(where, "annotations"), item.get("annotations"))
    if params["wait_timeout"] <= 0:
        raise KubeError.invalid("wait_timeout", f"{params['wait_timeout']} is not a positive number",
                                "give a number of seconds greater than 0")


def desired_namespace(item):
    annotations = dict(item.get("annotations") or {})
    if item.get("display_name") is not None:
        annotations[DISPLAY_NAME] = item["display_name"]
    if item.get("description") is not None:
        annotations[DESCRIPTION] = item["description"]
    metadata = {"name": item["name"]}
    if item.get("labels") is not None:
        metadata["labels"] = dict(item["labels"])
    if annotations or item.get("annotations") is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def ensure(params, check_mode):
    checked = requested(params, "namespaces", NAMESPACE_OPTIONS, one="namespace")
    validate(params, checked)
    items = [item for _where, item in checked]
    service = connect_service(params, check_mode)
    if params["state"] == "absent":
        outcomes = [remove(service, item["name"], params) for item in items]
    else:
        desired = [desired_namespace(item) for item in items]
        live = service.read_all(desired)  # one request: a GET for one namespace, a LIST for several
        outcomes = service.map_concurrently(
            lambda on, pair: establish(on, pair[0], pair[1], live.of(pair[1]), params),
            zip(items, desired, strict=True))
    return changes_result([change for change, _project in outcomes],
                          list_form=params["namespaces"] is not None,
                          openshift_project=any(project for _change, project in outcomes))


def establish(service, item, desired, live, params):
    """(Change, created as an OpenShift Project) for one namespace, whose live state is ``live``."""
    name, timeout = item["name"], params["wait_timeout"]
    if live is not None and live["metadata"].get("deletionTimestamp"):
        if not params["wait"] or service.check_mode:
            raise KubeError(
                f"{object_ref('Namespace', name)} is being deleted, so it cannot be ensured present now; "
                "run again once it is gone, or set wait: true to wait for that."
            )
        service.wait_gone("v1", "Namespace", name, timeout=timeout, uid=live["metadata"].get("uid"))
        live = None
    created_project = live is None and service.client.serves(PROJECT_API)
    if created_project:
        # Project self-provisioners may create a Project but not a Namespace: ask for one.
        request = {"apiVersion": PROJECT_API, "kind": "ProjectRequest", "metadata": {"name": name},
                   "displayName": item.get("display_name"), "description": item.get("description")}
        service.create(strip_none(request))
    if created_project and service.check_mode:
        # The ProjectRequest was only a dry run, so there is no Namespace to dry-run an apply on (and
        # a project self-provisioner may not touch Namespace objects): predict the result.
        change = Change(True, None, desired)
    else:
        if created_project:
            live = service.wait_for("v1", "Namespace", name, condition="metadata.name", timeout=timeout,
                                    description="be created by the ProjectRequest")
        change = service.apply(desired, force_conflicts=params["force_conflicts"], live=live, live_known=True)
    if created_project:
        change.changed, change.before = True, None
    after = change.after
    if params["wait"] and not service.check_mode and (after.get("status") or {}).get("phase") != "Active":
        change.after = service.wait_for("v1", "Namespace", name, condition="status.phase == 'Active'",
                                        timeout=timeout, description="become Active")
    return change, created_project


def remove(service, name, params):
    """(Change, False) for deleting one namespace (through its Project on OpenShift)."""
    timeout = params["wait_timeout"]
    change = None
    if service.client.serves(PROJECT_API):
        # Project admins may delete their Project but not the Namespace behind it.
        change = service.delete(PROJECT_API, "Project", name)
        if change.changed and params["wait"] and not service.check_mode:
            service.wait_gone("v1", "Namespace", name, timeout=timeout)
    if change is None or not change.changed:
        change = service.delete("v1", "Namespace", name, wait=params["wait"], timeout=timeout)
    return change, False


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
