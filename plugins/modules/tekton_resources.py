#!/usr/bin/python
"""Ansible module tekton_resources: validate Tekton definitions offline, then apply them in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tekton_resources
short_description: Validate Tekton Tasks, Pipelines and Triggers objects offline, then apply them
description:
  - Applies a list of Tekton objects (C(tekton.dev/v1) Tasks and Pipelines, C(triggers.tekton.dev/v1beta1)
    EventListeners, TriggerBindings, TriggerTemplates and Triggers) to one namespace in one call, by
    server-side apply with the field manager C(tekton-cd).
  - First finds out what the cluster runs. With C(tekton.dev/v1) served it proceeds; a cluster that
    serves only older Tekton APIs, or none, fails with one sentence saying what to install. The
    release comes from the C(pipelines-info) ConfigMap of O(tekton_namespace) when it is readable.
  - Then validates every definition offline, with the cluster's C(feature-flags) (Tekton's defaults
    when they cannot be read, reported as warnings then) - references to params, results,
    workspaces and context, their types, C(runAfter) and the task graph (a cycle is reported with its
    path), params without value, unbound workspaces, names, steps, features the flags do not
    enable. All problems are reported together in one message, and nothing is written when there is
    any. What would fail only at run time (results near the 4 KB limit, timeouts beyond the
    pipeline's budget, several PVC workspaces under the affinity assistant) becomes warnings.
  - Every object gets the labels C(app.kubernetes.io/part-of=tekton-cd) and
    C(tekton-cd/pipeline=)O(pipeline); with O(prune=true), objects carrying both that are no longer
    in O(definitions) are deleted.
  - A run that would change nothing sends no write (one read per kind, a label-selected LIST).
version_added: "0.1.0"
author: tekton-cd maintainers (@tekton-cd)
options:
  definitions:
    description:
      - The Tekton objects, as dicts (for example rendered from templates with
        C(lookup('template', ...) | from_yaml)). Each needs C(apiVersion), C(kind) and
        C(metadata.name); C(metadata.namespace), when given, must be O(namespace).
      - PipelineRuns and TaskRuns are not definitions; start runs with C(tekton_pipelinerun).
      - Exactly one of O(definitions) and O(definitions_yaml) is required.
    type: list
    elements: dict
  definitions_yaml:
    description:
      - The same objects as YAML text, one object per document (C(---) between them), for
        example C(lookup('template', 'definitions.yaml.j2')) with no C(from_yaml_all) after it.
        Empty documents are left out; the objects are what C(from_yaml_all) would give.
      - Cheaper than O(definitions) for many objects - Ansible's own YAML loader and its
        templating of the parsed values cost more than validating and applying them
        (docs/decisions.md).
    type: str
    version_added: "0.2.0"
  namespace:
    description: Namespace the objects are applied to; it must exist.
    type: str
    required: true
  pipeline:
    description:
      - Name of this set of definitions (normally its Pipeline's name), a label value. It is put
        in the label C(tekton-cd/pipeline) of every object and selects what O(prune) may delete.
    type: str
    required: true
  labels:
    description: More labels for every object (string values), besides the two identifying labels.
    type: dict
    default: {}
  prune:
    description:
      - Delete the objects of this pipeline (both identifying labels, in O(namespace)) that are not
        in O(definitions). One label-selected LIST per kind finds them.
    type: bool
    default: false
  known_tasks:
    description:
      - Names of Tasks that exist in O(namespace) but are not in O(definitions) (installed by other
        means), so that a C(taskRef) to them is not reported; their params are not checked.
    type: list
    elements: str
    default: []
  install_manifest:
    description:
      - Path of a Tekton release file downloaded beforehand (for example Tekton Pipelines'
        C(release.yaml)). Its documents are server-side applied first (namespaces and CRDs before
        the rest) and its CRDs watched until they are Established. The definitions are validated
        against the C(feature-flags) it holds before anything is applied.
      - Applying it again is a no-op when the cluster already holds it.
    type: path
  install_timeout:
    description: Seconds to wait for the CRDs of O(install_manifest) to become Established.
    type: int
    default: 300
  tekton_namespace:
    description:
      - Namespace of the Tekton Pipelines install, holding C(pipelines-info) and C(feature-flags)
        (C(openshift-pipelines) on OpenShift Pipelines).
    type: str
    default: tekton-pipelines
  force_conflicts:
    description: Take over fields another field manager set to other values, instead of failing.
    type: bool
    default: false
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description:
      - Every write is sent with C(dryRun=All), so the API server validates it and stores nothing.
      - With O(install_manifest) on a cluster without Tekton, the definitions are shown as they
        would be created, since their kinds are not served until the release is really applied.
  diff_mode:
    support: full
    description: Each object before and after (pruned ones after empty), without server-maintained fields.
notes:
  - Tekton Pipelines serves C(tekton.dev/v1) from v0.43.0 on; v1.15 is the current LTS line.
  - Service accounts are not part of a Pipeline; a PipelineRun sets them per task (C(taskRunSpecs)).
"""

EXAMPLES = r"""
- name: Apply the health pipeline's Tasks and Pipeline, removing objects that left the definition
  tekton_cd.pipeline.tekton_resources:
    namespace: health-ci
    pipeline: health-cd
    prune: true
    definitions:
      - "{{ lookup('ansible.builtin.template', 'git-clone.yaml.j2') | from_yaml }}"
      - "{{ lookup('ansible.builtin.template', 'health-cd.yaml.j2') | from_yaml }}"
  register: applied

- name: The same from one template rendering every object as a YAML document (cheaper for many)
  tekton_cd.pipeline.tekton_resources:
    namespace: health-ci
    pipeline: health-cd
    prune: true
    definitions_yaml: "{{ lookup('ansible.builtin.template', 'definitions.yaml.j2') }}"

- name: Install Tekton Pipelines from a downloaded release file, then apply a Task
  tekton_cd.pipeline.tekton_resources:
    install_manifest: files/tekton-pipelines-v1.15.0-release.yaml
    namespace: ci
    pipeline: hello
    definitions:
      - apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: hello}
        spec:
          steps:
            - {name: say, image: "docker.io/library/alpine:3.21", script: echo hello}
"""

RETURN = r"""
results:
  description: One entry per element of O(definitions), in order.
  returned: success
  type: list
  elements: dict
  contains:
    kind: {description: The object's kind., type: str, sample: Pipeline}
    name: {description: The object's name., type: str, sample: health-cd}
    action:
      description: C(created), C(updated) or C(unchanged) (in check mode, what would be done).
      type: str
      sample: unchanged
    object: {description: "The object as the API server returned it, without managedFields.", type: dict}
pruned:
  description: The objects O(prune) deleted (or would delete in check mode), each with C(kind) and C(name).
  returned: success
  type: list
  elements: dict
  sample: [{kind: Task, name: old-lint}]
installed:
  description: One entry per document of O(install_manifest), with C(kind), C(name) and C(action).
  returned: success
  type: list
  elements: dict
tekton:
  description: What the cluster runs (after O(install_manifest), when given).
  returned: success
  type: dict
  contains:
    release:
      description: Tekton Pipelines' version from pipelines-info; null when not readable.
      type: str
      sample: v1.15.0
    api_versions:
      description: The tekton.dev versions served.
      type: list
      elements: str
      sample: [v1, v1beta1]
    feature_flags:
      description: The feature-flags data used for validation; null when not readable.
      type: dict
    triggers_api_versions:
      description: The triggers.tekton.dev versions served, when Triggers objects or O(prune) asked.
      type: list
      elements: str
validation_warnings:
  description: What validation found that would likely fail at run time (also shown as warnings).
  returned: success
  type: list
  elements: str
  sample: ["Pipeline/health-cd spec.tasks[4]: runs up to 1h (Tekton's default) ..."]
problems:
  description: Every problem found in O(definitions), when validation failed (nothing was applied).
  returned: failure
  type: list
  elements: str
diff:
  description: Before and after of each applied, then each pruned object (with C(--diff)).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils import tekton_cluster as tekton  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_labels,
    check_namespace_name,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.tekton_definitions import (  # noqa: E402
    FLAGS_UNREAD,
    TRIGGERS_API,
    DefinitionProblems,
    identity_labels,
    labelled,
    prune_kinds,
    summary,
    validate_definitions,
    yaml_documents,
)

ARGUMENT_SPEC = {
    "definitions": {"type": "list", "elements": "dict"},
    "definitions_yaml": {"type": "str"},
    "namespace": {"type": "str", "required": True},
    "pipeline": {"type": "str", "required": True},
    "labels": {"type": "dict", "default": {}},
    "prune": {"type": "bool", "default": False},
    "known_tasks": {"type": "list", "elements": "str", "default": []},
    "install_manifest": {"type": "path"},
    "install_timeout": {"type": "int", "default": 300},
    "tekton_namespace": {"type": "str", "default": tekton.TEKTON_NAMESPACE},
    "force_conflicts": {"type": "bool", "default": False},
}


def ensure(params, check_mode):
    namespace, known_tasks = params["namespace"], params["known_tasks"]
    check_namespace_name("namespace", namespace)
    check_labels("labels", params["labels"])
    labels = identity_labels(params["pipeline"])
    definitions, read_warnings = _definitions(params)
    desired, problems = labelled(definitions, namespace, {**params["labels"], **labels})
    manifest = params["install_manifest"]
    release = tekton.read_manifest(manifest, params["tekton_namespace"]) if manifest else None
    # Offline first: every problem the cluster cannot change is reported before connecting (with a
    # release file, against the feature flags it installs).
    offline_flags = release.planned.feature_flags if release else None
    problems, validation = validate_definitions(desired, problems, offline_flags, known_tasks)
    if problems:
        raise DefinitionProblems(problems, [*read_warnings, *validation])
    service = connect_service(params, check_mode)
    has_triggers = any(obj["apiVersion"] == TRIGGERS_API for obj in desired)
    triggers = "required" if has_triggers else params["prune"]
    found = tekton.detect(service, params["tekton_namespace"], with_triggers=triggers)
    expected = release.planned.over(found) if release else found
    tekton.require_v1(expected, manifest=manifest)
    if has_triggers and "v1beta1" not in expected.triggers:
        raise KubeError("Tekton Triggers is not installed (the cluster serves no "
                        "triggers.tekton.dev/v1beta1); "
                        "install Tekton Triggers' release file, or leave the Triggers objects out.")
    if expected.feature_flags != offline_flags:  # now validated against the cluster's flags
        problems, validation = validate_definitions(desired, [], expected.feature_flags, known_tasks)
        if problems:
            raise DefinitionProblems(problems, [*read_warnings, *validation])
    warnings = [*read_warnings, *([] if expected.feature_flags is not None else [FLAGS_UNREAD]), *validation]
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    pending = "v1" not in found.api_versions  # Tekton arrives with install_manifest in this run
    live = None if pending else _read_live(service, desired, namespace, params["prune"], selector, found)
    if service.get("v1", "Namespace", namespace) is None if pending else service.missing_namespaces(
            desired, live):
        if not check_mode:
            raise KubeError(f'Cannot apply the Tekton definitions: namespace "{namespace}" does not exist; '
                            "create it first (role pipeline_accounts, or module k8s_namespace).")
        warnings.append(f'Namespace "{namespace}" does not exist (yet): the definitions are shown as they '
                        "would be created; a real run needs the namespace created first.")
        pending = True
    installed = tekton.install(service, release, timeout=params["install_timeout"]) if release else []
    if release and not check_mode:
        expected = tekton.detect(service, params["tekton_namespace"], fresh=True, with_triggers=True)
        tekton.require_v1(expected, manifest=manifest)
        pending, live = False, _read_live(service, desired, namespace, params["prune"], selector, expected)
    if pending:  # check mode: nothing to dry-run against yet
        if release:
            warnings.append("Tekton is installed by install_manifest only in a real run: in check mode the "
                            "definitions are shown as they would be created.")
        changes, pruned = [Change(True, None, obj) for obj in desired], []
    else:
        changes = service.apply_all(desired, force_conflicts=params["force_conflicts"], live=live)
        pruned = _prune(service, desired, live) if params["prune"] else []
    return {
        "changed": any(change.changed for change in (*installed, *changes, *pruned)),
        "results": [summary(change, with_object=True) for change in changes],
        "pruned": [summary(change) for change in pruned],
        "installed": [summary(change) for change in installed],
        "tekton": expected.as_result(),
        "validation_warnings": validation,
        "warnings": warnings,
        "diff": [change.diff() for change in (*changes, *pruned)],
    }


def _definitions(params):
    """(the definitions given, warnings of reading them): the list, or the objects of the text."""
    if params["definitions"] is not None:
        return params["definitions"], []
    return yaml_documents(params["definitions_yaml"], "definitions_yaml")


def _read_live(service, desired, namespace, prune, selector, found):
    """The live objects: with prune, all of this pipeline's (one LIST per kind), else those named."""
    if prune:
        return tekton.read_labelled(service, prune_kinds(found), namespace, selector)
    return service.read_all(desired, label_selector=selector)


def _prune(service, desired, live):
    wanted = {(obj["apiVersion"], obj["kind"], obj["metadata"]["name"]) for obj in desired}
    return [service.delete(api_version, kind, name, namespace)
            for (api_version, kind, name, namespace) in sorted(live)
            if (api_version, kind, name) not in wanted]


MODULE = ModuleDeclaration(
    ARGUMENT_SPEC,
    ensure,
    required_one_of=[("definitions", "definitions_yaml")],
    mutually_exclusive=[("definitions", "definitions_yaml")],
)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
