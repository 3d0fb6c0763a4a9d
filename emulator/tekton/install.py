"""Install an emulated Tekton Pipelines release into the emulated cluster: its CRDs (Task, Pipeline,
PipelineRun, TaskRun), the `tekton-pipelines` namespace and the `pipelines-info` / `feature-flags`
ConfigMaps, as applying the release file would leave them (no controller, no webhook).

    install(state)                  # Tekton v1.15.0: tekton.dev/v1 stored, v1beta1 served
    install(state, api="v1beta1")   # an older Tekton (v0.42.0): only tekton.dev/v1beta1 served

The CRD files in `crds/` are written against `crds/definitions.yaml` with `$ref`s and shorthands
(see that file's header); `crds(api)` resolves them into plain CustomResourceDefinitions, which is
also what a test can apply to another cluster.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import yaml

CRD_DIR = Path(__file__).parent / "crds"
CRD_FILES = ("tasks.yaml", "pipelines.yaml", "pipelineruns.yaml", "taskruns.yaml")
NAMESPACE = "tekton-pipelines"
API_LEVELS = {"v1": "v1.15.0", "v1beta1": "v0.42.0"}  # served API level -> emulated release
FIELD_MANAGER = "tekton-release-install"

_LEAVES = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "date-time": {"type": "string", "format": "date-time"},
    "strings": {"type": "array", "items": {"type": "string"}},
}

# v1beta1 is served for reading old objects back; its schema here keeps spec and status open
# (the released one types them too; see docs/emulator.md, known gaps).
_V1BETA1_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


class DefinitionError(ValueError):
    """A CRD file refers to a definition that does not exist (a bug in crds/, not user input)."""


def resolve(node, definitions: dict, path: str = "", refs: tuple = ()):
    """Expand `$ref`, `$map` and the leaf shorthands into a plain openAPIV3Schema."""
    if isinstance(node, str):
        if node not in _LEAVES:
            raise DefinitionError(f"unknown schema shorthand {node!r} at {path or 'root'}")
        return copy.deepcopy(_LEAVES[node])
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"]
        if name not in definitions:
            raise DefinitionError(f"unknown definition {name!r} at {path or 'root'}")
        if name in refs:
            raise DefinitionError(f"definition {name!r} refers to itself at {path}")
        base = resolve(definitions[name], definitions, path, refs + (name,))
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _merge(base, resolve(extra, definitions, path, refs))
    if "$map" in node:
        return {
            "type": "object",
            "additionalProperties": resolve(node["$map"], definitions, path + "{}", refs),
        }
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {
                name: resolve(sub, definitions, f"{path}.{name}", refs) for name, sub in value.items()
            }
        elif key in ("items", "additionalProperties"):
            out[key] = resolve(value, definitions, path + "[]", refs)
        else:  # required, enum, default, x-kubernetes-*: literal values
            out[key] = copy.deepcopy(value)
    return out


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@cache
def _definitions() -> dict:
    return yaml.safe_load((CRD_DIR / "definitions.yaml").read_text())


@cache
def releases() -> dict:
    return yaml.safe_load((CRD_DIR / "releases.yaml").read_text())


def release_for(api: str) -> str:
    if api not in API_LEVELS:
        raise ValueError(f"tekton API level {api!r} is not emulated; choose one of {sorted(API_LEVELS)}")
    return API_LEVELS[api]


def crds(api: str = "v1") -> list[dict]:
    """The four CustomResourceDefinitions of the emulated release serving `api` (fresh copies)."""
    release = release_for(api)
    result = []
    for filename in CRD_FILES:
        crd = yaml.safe_load((CRD_DIR / filename).read_text())
        [v1] = crd["spec"]["versions"]
        v1 = {**v1, "schema": {"openAPIV3Schema": resolve(v1["schema"]["openAPIV3Schema"], _definitions())}}
        v1beta1 = {
            **copy.deepcopy(v1),
            "name": "v1beta1",
            "storage": False,
            "schema": {"openAPIV3Schema": copy.deepcopy(_V1BETA1_SCHEMA)},
        }
        if api == "v1beta1":  # v0.42: v1 declared but not served, v1beta1 stored
            v1beta1["storage"] = True
            v1 = {**v1, "served": False, "storage": False}
        crd["spec"]["versions"] = [v1beta1, v1]
        crd["metadata"]["labels"] = _labels(release)
        result.append(crd)
    return result


def _labels(release: str) -> dict:
    return {
        "app.kubernetes.io/instance": "default",
        "app.kubernetes.io/part-of": "tekton-pipelines",
        "pipeline.tekton.dev/release": release,
        "version": release,
    }


def config_maps(api: str = "v1") -> list[dict]:
    """`pipelines-info` and `feature-flags` as the release leaves them in tekton-pipelines."""
    release = release_for(api)
    labels = {"app.kubernetes.io/instance": "default", "app.kubernetes.io/part-of": "tekton-pipelines"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "pipelines-info", "namespace": NAMESPACE, "labels": dict(labels)},
            "data": {"version": release},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "feature-flags", "namespace": NAMESPACE, "labels": dict(labels)},
            "data": dict(releases()[release]["feature-flags"]),
        },
    ]


def install(state, api: str = "v1") -> None:
    """Create the release's objects in `state` (an emulator.kube.models.ClusterState) and let the
    emulated control plane establish the CRDs. Objects that already exist are left as they are."""
    from emulator.kube.models import RequestContext

    ctx = RequestContext(default_manager=FIELD_MANAGER)
    crd_type = state.rtype("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    for crd in crds(api):
        if state.find(crd_type, "", crd["metadata"]["name"]) is None:
            state.create(crd_type, "", crd, ctx)
    namespaces = state.rtype("", "v1", "namespaces")
    if state.find(namespaces, "", NAMESPACE) is None:
        labels = {
            "app.kubernetes.io/instance": "default",
            "app.kubernetes.io/part-of": "tekton-pipelines",
            "pod-security.kubernetes.io/enforce": "restricted",
        }
        state.create(namespaces, "", {"metadata": {"name": NAMESPACE, "labels": labels}}, ctx)
    configmaps = state.rtype("", "v1", "configmaps")
    for configmap in config_maps(api):
        if state.find(configmaps, NAMESPACE, configmap["metadata"]["name"]) is None:
            state.create(configmaps, NAMESPACE, configmap, ctx)
    state.reconcile()
