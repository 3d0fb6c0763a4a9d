"""The definitions tekton_resources applies: which kinds, the labels that identify a pipeline's
objects, and all problems of a list of definitions gathered into one failure.

    definitions, warnings = yaml_documents(text, "definitions_yaml")   # multi-document YAML text
    labels = identity_labels("health-cd")        # part-of: tekton-cd, tekton-cd/pipeline: health-cd
    desired, problems = labelled(definitions, "ci", labels)   # copies with namespace and labels set
    problems, warnings = validate_definitions(desired, problems, feature_flags, known_tasks)
    raise DefinitionProblems(problems)           # one message listing every problem

Tekton objects are checked by tekton_validate (offline, with the cluster's feature flags); Triggers
objects only for what applying them needs (kind, name, namespace), since their content is checked
by Triggers' webhook.
"""

from __future__ import annotations

import copy
import json

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (
    LABEL_VALUE,
    is_dns_subdomain,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.tekton_validate import Finding, validate

TEKTON_API = "tekton.dev/v1"
TRIGGERS_API = "triggers.tekton.dev/v1beta1"
KINDS = {
    TEKTON_API: ("Task", "Pipeline"),
    TRIGGERS_API: ("EventListener", "TriggerBinding", "TriggerTemplate", "Trigger"),
}
PART_OF = ("app.kubernetes.io/part-of", "tekton-cd")
PIPELINE_LABEL = "tekton-cd/pipeline"
RUN_KINDS = ("PipelineRun", "TaskRun", "CustomRun")


FLAGS_UNREAD = ("The feature-flags ConfigMap could not be read, so the definitions were validated against "
                "Tekton v1.15's defaults; grant read access to it for an exact check.")


class DefinitionProblems(KubeError):
    """Every problem of the definitions, in one message; nothing has been applied. ``warnings``
    (what validation found besides) still reach the user as the task's warnings."""

    def __init__(self, problems, warnings=()):
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        listed = " ".join(f"({n}) {str(p).rstrip('.')}." for n, p in enumerate(problems, 1))
        super().__init__(f"The Tekton definitions have {count}, so nothing was applied: {listed}",
                         reason="Invalid")
        self.problems = [str(p) for p in problems]
        self.warnings = list(warnings)

    def result_fields(self):
        fields = {**super().result_fields(), "problems": self.problems}
        return {**fields, "warnings": self.warnings} if self.warnings else fields


def yaml_documents(text, option):
    """(the objects of ``text``, YAML documents, as dicts; warnings): what ``from_yaml_all`` gives
    for the same text, read with libyaml when PyYAML has it. Ansible's own loader tags every
    string with its origin, which costs more than validating and applying the objects; the values
    are the same: empty documents are left out, timestamps become their ISO text and keys strings
    (as the module arguments' JSON carries them), and a key given twice keeps its last value with
    a warning.
    KubeError naming ``option`` when the text is not YAML or a document is not a mapping."""
    import yaml

    warnings = []

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        def construct_mapping(self, node, deep=False):
            mapping = super().construct_mapping(node, deep=deep)
            if len(mapping) == len(node.value):  # every key once: the common case, checked for free
                return mapping
            seen = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    line = key_node.start_mark.line + 1
                    warnings.append(f'{option} line {line}: key "{key}" is given twice in one mapping; '
                                    "the last value is used. Remove one.")
                seen.add(key)
            return mapping

    def iso_timestamp(loader, node):
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node).isoformat()

    Loader.add_constructor("tag:yaml.org,2002:timestamp", iso_timestamp)
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=Loader) if doc is not None]
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise KubeError.invalid(option, f"is not valid YAML ({problem}{line})",
                                "fix the template or text that produced it") from None
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            raise KubeError.invalid(option, f"document {index + 1} is a {type(doc).__name__}, not a mapping",
                                    "give one Tekton object per YAML document")
    return json.loads(json.dumps(documents)), warnings


def identity_labels(pipeline):
    """The labels that mark an object as one of ``pipeline``'s (what prune selects by)."""
    if not isinstance(pipeline, str) or not pipeline or len(pipeline) > 63 or not LABEL_VALUE.match(pipeline):
        raise KubeError.invalid(
            "pipeline",
            f"{pipeline!r} is not a valid label value",
            'use at most 63 letters, digits, "-", "_" and ".", such as health-cd',
        )
    return dict([PART_OF, (PIPELINE_LABEL, pipeline)])


def labelled(definitions, namespace, labels):
    """(copies of ``definitions`` with metadata.namespace and ``labels`` set, problems of their
    identity: kinds that are not definitions, another namespace, labels that contradict ours)."""
    desired, problems = [], []
    seen = set()
    for index, given in enumerate(definitions):
        obj = copy.deepcopy(given)
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        kind, name, api_version = obj.get("kind"), metadata.get("name"), obj.get("apiVersion")
        ref = f"{kind}/{name}" if kind and name else f"definitions[{index}]"
        if kind in RUN_KINDS:
            problems.append(
                Finding(ref, "kind", "a run is not a definition; start runs with tekton_pipelinerun.")
            )
            continue
        known = next((api for api, kinds in KINDS.items() if kind in kinds), None)
        if known is None:
            problems.append(
                Finding(
                    ref,
                    "kind",
                    f'"{kind}" is not a Tekton definition; give one of '
                    f"{', '.join(k for kinds in KINDS.values() for k in kinds)}.",
                )
            )
            continue
        if not isinstance(name, str) or not name:
            problems.append(Finding(ref, "metadata.name", "is missing; give every definition a name."))
            continue
        if known == TRIGGERS_API:  # tekton_validate checks Tasks and Pipelines (apiVersion included)
            if api_version != TRIGGERS_API:
                problems.append(Finding(ref, "apiVersion", f'is "{api_version}"; write {TRIGGERS_API}.'))
            if not is_dns_subdomain(name):
                problems.append(
                    Finding(
                        ref,
                        "metadata.name",
                        f"{name!r} is not a valid name; use a lowercase RFC 1123 subdomain.",
                    )
                )
            if (kind, name) in seen:
                problems.append(
                    Finding(ref, "metadata.name", "is defined twice in this list; keep one definition.")
                )
            seen.add((kind, name))
        if metadata.get("namespace") not in (None, namespace):
            problems.append(
                Finding(
                    ref,
                    "metadata.namespace",
                    f'is "{metadata["namespace"]}", not the task\'s '
                    f'namespace "{namespace}"; drop it or apply it with a task of its own.',
                )
            )
        own = metadata.get("labels") or {}
        for key, value in labels.items():
            if key in own and own[key] != value:
                problems.append(
                    Finding(
                        ref,
                        f"metadata.labels.{key}",
                        f'is "{own[key]}", but this task labels '
                        f'its objects "{value}"; drop the label from the definition.',
                    )
                )
        obj["metadata"] = {**metadata, "namespace": namespace, "labels": {**own, **labels}}
        desired.append(obj)
    return desired, problems


def validate_definitions(desired, problems, feature_flags, known_tasks):
    """(problems, warnings as strings): those given plus what tekton_validate finds in the Tekton
    objects. Offline: with ``feature_flags`` None, features Tekton's defaults leave off are warnings."""
    found, warned = validate([obj for obj in desired if obj["kind"] in KINDS[TEKTON_API]],
                             feature_flags=feature_flags, known_tasks=known_tasks)
    return [*problems, *found], [str(finding) for finding in warned]


def prune_kinds(found):
    """(apiVersion, kind) of what prune looks through: Tekton's kinds, Triggers' when served."""
    apis = [TEKTON_API] + ([TRIGGERS_API] if "v1beta1" in found.triggers else [])
    return [(api, kind) for api in apis for kind in KINDS[api]]


def summary(change, *, with_object=False):
    """How a module result names one change: kind, name, action (and the object)."""
    obj = change.after or change.before or {}
    if change.after is None and change.before is not None:
        action = "deleted"
    else:
        action = "unchanged" if not change.changed else "created" if change.before is None else "updated"
    entry = {"kind": obj.get("kind"), "name": (obj.get("metadata") or {}).get("name"), "action": action}
    if with_object:
        entry["object"] = change.result
    return entry
