"""Helpers for tests of the emulated Tekton controller: the Tekton CRDs (a permissive stand-in until
the real ones are installed by `EmulatedCluster(tekton=True)`), object builders, and waits that
watch for a condition instead of sleeping."""

from __future__ import annotations

from kubernetes import client, watch

GROUP, VERSION = "tekton.dev", "v1"
KINDS = {
    "Task": ("tasks", "task"),
    "TaskRun": ("taskruns", "taskrun"),
    "Pipeline": ("pipelines", "pipeline"),
    "PipelineRun": ("pipelineruns", "pipelinerun"),
}


def ensure_tekton_crds(api_client) -> None:
    """Register the four Tekton v1 kinds (any content accepted, status subresource) unless served."""
    extensions = client.ApiextensionsV1Api(api_client)
    present = {crd.metadata.name for crd in extensions.list_custom_resource_definition().items}
    for kind, (plural, singular) in KINDS.items():
        name = f"{plural}.{GROUP}"
        if name in present:
            continue
        extensions.create_custom_resource_definition(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": name},
                "spec": {
                    "group": GROUP,
                    "scope": "Namespaced",
                    "names": {
                        "plural": plural,
                        "singular": singular,
                        "kind": kind,
                        "listKind": kind + "List",
                    },
                    "versions": [
                        {
                            "name": VERSION,
                            "served": True,
                            "storage": True,
                            "subresources": {"status": {}},
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    ],
                },
            }
        )


class Tekton:
    """Create and read Tekton objects in one namespace through the real client."""

    def __init__(self, api_client, namespace: str):
        self.api = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace

    def create(self, kind: str, name: str, spec: dict, **metadata) -> dict:
        plural = KINDS[kind][0]
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, **metadata},
            "spec": spec,
        }
        return self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body)

    def get(self, kind: str, name: str) -> dict:
        return self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, KINDS[kind][0], name)

    def list(self, kind: str, label_selector: str = "") -> list[dict]:
        return self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, KINDS[kind][0], label_selector=label_selector
        )["items"]

    def patch_spec(self, kind: str, name: str, spec: dict) -> dict:
        return self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, KINDS[kind][0], name, {"spec": spec}
        )

    def wait(self, kind: str, name: str, predicate, timeout: int = 30) -> dict:
        """Watch the object until `predicate(obj)` holds; the object. Fails after `timeout` s."""
        current = self.get(kind, name)
        if predicate(current):
            return current
        stream = watch.Watch()
        for event in stream.stream(
            self.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            KINDS[kind][0],
            field_selector=f"metadata.name={name}",
            resource_version=current["metadata"]["resourceVersion"],
            timeout_seconds=timeout,
        ):
            current = event["object"]
            if predicate(current):
                stream.stop()
                return current
        raise AssertionError(
            f"{kind} {name} did not reach the expected state within {timeout} s: {current.get('status')}"
        )

    def wait_done(self, kind: str, name: str, timeout: int = 30) -> dict:
        return self.wait(kind, name, lambda obj: succeeded(obj).get("status") in ("True", "False"), timeout)


def succeeded(obj: dict) -> dict:
    """The object's Succeeded condition ({} when it has none yet)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Succeeded":
            return cond
    return {}
