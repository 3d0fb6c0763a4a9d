#!/usr/bin/python
"""Ansible module k8s_teardown: remove exactly what tekton-cd made in its namespaces, found by labels."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_teardown
short_description: Remove what tekton-cd made in its namespaces, and nothing else
description:
  - Finds, in the namespaces O(namespaces), every object whose labels match O(label_selector)
    (of any namespaced kind the cluster serves, Tekton's included), the runs of the Pipelines and
    Tasks found so (Tekton labels them C(tekton.dev/pipeline) / C(tekton.dev/task)), the objects
    the Helm releases O(helm_releases) made (their latest manifest and every revision's hooks,
    read from Helm's own release records) and those records; then deletes them, runs first.
  - Objects owned (C(ownerReferences)) by an object being deleted, such as a Deployment's pods or a
    TaskRun's pod, are removed by the cluster's garbage collector with their owner; with O(wait)
    the module waits for that (foreground deletion).
  - Everything else in those namespaces is left alone. A namespace itself is deleted as
    O(delete_namespaces) says; by default only when it carries the labels and holds nothing but
    what tekton-cd made (and what the cluster puts in every namespace, such as the C(default)
    service account).
  - Objects whose annotation C(helm.sh/resource-policy) is C(keep) are kept, as C(helm uninstall)
    keeps them. Unlike C(helm uninstall), hook objects Helm left behind are removed too.
  - In check mode the module reads (one LIST per namespaced kind and namespace) and reports what
    it would delete, and sends no write at all.
version_added: "0.2.0"
author: tekton-cd maintainers
options:
  namespaces:
    description:
      - The namespaces tekton-cd made objects in (the pipeline's and the application's).
      - Namespaces that do not exist are skipped.
    type: list
    elements: str
    required: true
  label_selector:
    description:
      - The label selector that marks tekton-cd's objects (and namespaces), in the API's syntax
        (C(key=value), C(key!=value), C(key), C(!key), C(key in (a,b)), joined with commas).
    type: str
    default: app.kubernetes.io/part-of=tekton-cd
  helm_releases:
    description:
      - Helm releases the pipeline deployed; each is removed with what it made.
      - A release that does not exist is skipped.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the release.
        type: str
        required: true
      namespace:
        description: Namespace of the release (where Helm keeps its records).
        type: str
        required: true
  delete_namespaces:
    description:
      - C(when_empty) deletes a namespace of O(namespaces) that carries the labels of
        O(label_selector) once nothing else is left in it; one that holds objects of others is kept.
      - C(always) deletes the namespaces of O(namespaces), with everything in them.
      - C(never) keeps every namespace.
    type: str
    choices: [when_empty, always, never]
    default: when_empty
  wait:
    description:
      - Wait until every deleted object, its dependents and the deleted namespaces are gone.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait (see O(wait)) before failing.
    type: int
    default: 300
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description: Lists what would be deleted and what would be kept; sends no write.
  diff_mode:
    support: full
    description: Shows the objects to delete, one per line, as the before state.
"""

EXAMPLES = r"""
- name: List what a teardown would remove, deleting nothing
  tekton_cd.pipeline.k8s_teardown:
    namespaces: [health-ci, health]
    helm_releases:
      - {name: health, namespace: health}
  check_mode: true
  register: teardown

- name: Remove the pipeline and the application, and their namespaces with everything in them
  tekton_cd.pipeline.k8s_teardown:
    namespaces: [health-ci, health]
    helm_releases:
      - {name: health, namespace: health}
    delete_namespaces: always
"""

RETURN = r"""
deleted:
  description: The objects deleted (in check mode, those that would be), in order, with the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - {apiVersion: tekton.dev/v1, kind: PipelineRun, namespace: health-ci, name: health-cd-x2k4p,
       why: "labelled app.kubernetes.io/part-of=tekton-cd"}
    - {apiVersion: v1, kind: Namespace, name: health-ci,
       why: "labelled app.kubernetes.io/part-of=tekton-cd and holds nothing else"}
kept:
  description: Objects in the namespaces that stay, with the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - {apiVersion: v1, kind: ConfigMap, namespace: health, name: team-notes, why: not made by tekton-cd}
report:
  description: One line per object deleted (or, in check mode, to delete) and kept, with the reason.
  returned: always
  type: list
  elements: str
  sample:
    - Would delete PipelineRun health-ci/health-cd-x2k4p (labelled app.kubernetes.io/part-of=tekton-cd)
    - Keeps ConfigMap health/team-notes (not made by tekton-cd)
    - "Keeps Namespace health: it holds 1 object(s) not made by tekton-cd"
namespaces_kept:
  description: The namespaces of O(namespaces) that exist and stay, with the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: health, why: "it holds 1 object(s) not made by tekton-cd"}
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import ModuleDeclaration  # noqa: E402

ARGUMENT_SPEC = {
    "namespaces": {"type": "list", "elements": "str", "required": True},
    "label_selector": {"type": "str", "default": "app.kubernetes.io/part-of=tekton-cd"},
    "helm_releases": {
        "type": "list", "elements": "dict", "default": [],
        "options": {"name": {"type": "str", "required": True},
                    "namespace": {"type": "str", "required": True}},
    },
    "delete_namespaces": {"type": "str", "choices": ["when_empty", "always", "never"],
                          "default": "when_empty"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 300},
}


def ensure(params, check_mode):
    import time

    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import check_namespace_name
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import connect_service
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_teardown import (
        TeardownFinder,
        parse_selector,
    )

    for name in params["namespaces"]:
        check_namespace_name("namespaces", name)
    for release in params["helm_releases"]:
        check_namespace_name("helm_releases.namespace", release["namespace"])
    if not (params["label_selector"] or "").strip():
        raise KubeError.invalid("label_selector", "it is empty, which would select every object",
                                "give the labels tekton-cd puts on its objects, e.g. "
                                "app.kubernetes.io/part-of=tekton-cd")
    parse_selector(params["label_selector"])  # a bad selector fails before anything is read

    service = connect_service(params, check_mode)
    plan = TeardownFinder(service).plan(
        namespaces=params["namespaces"], label_selector=params["label_selector"],
        helm_releases=params["helm_releases"], delete_namespaces=params["delete_namespaces"],
    )
    removed = []
    if not check_mode:
        for item in plan.deletions:
            # Foreground: the owner stays until the garbage collector removed its dependents, so
            # waiting for the owner is waiting for all of it. A namespace finalizes its content.
            policy = "Background" if item.kind == "Namespace" else "Foreground"
            change = service.delete(item.api_version, item.kind, item.name, item.namespace,
                                    propagation_policy=policy)
            if change.changed:
                removed.append(item)
        if params["wait"]:
            deadline = time.monotonic() + params["wait_timeout"]
            for item in removed:
                remaining = max(deadline - time.monotonic(), 1)
                service.wait_gone(item.api_version, item.kind, item.name, item.namespace,
                                  timeout=remaining, uid=item.uid)
    listed = plan.deletions if check_mode else removed
    verb = "Would delete" if check_mode else "Deleted"
    report = [f"{verb} {item.ref} ({item.why})" for item in listed]
    report += [f"Keeps {item.ref} ({item.why})" for item in plan.kept]
    report += [f"Keeps Namespace {name}: {why}" for name, why in plan.namespaces_kept]
    return {
        "report": report or ["Nothing of tekton-cd was found; nothing to delete."],
        "changed": bool(listed),
        "deleted": [item.as_result() for item in listed],
        "kept": [item.as_result() for item in plan.kept],
        "namespaces_kept": [{"name": name, "why": why} for name, why in plan.namespaces_kept],
        "diff": {
            "before_header": "objects of tekton-cd",
            "before": "".join(f"{item.ref}\n" for item in listed),
            "after_header": "objects of tekton-cd",
            "after": "",
        },
    }


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
