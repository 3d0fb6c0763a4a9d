"""What the apiextensions server does with CustomResourceDefinitions: a new CRD has its names
accepted and becomes Established, its served versions are registered (discovery, routing, schema),
and a deleted CRD takes its custom objects along before its cleanup finalizer is dropped."""

from __future__ import annotations

import copy
import hashlib

from emulator.kube.admission import CRD_CLEANUP_FINALIZER
from emulator.kube.controllers import drop_finalizer
from emulator.kube.resources import ResourceType, version_priority
from emulator.kube.tokens import b64url

# The order the real server lists custom resource verbs in discovery.
CUSTOM_RESOURCE_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


def established(crd: dict) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


class CRDController:
    @staticmethod
    def concerns(event) -> bool:
        return event.key == ("apiextensions.k8s.io", "customresourcedefinitions")

    def __call__(self, state) -> bool:
        store = state.store
        crds = state.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for crd in list(store.bucket(crds).values()):
            if crd["metadata"].get("deletionTimestamp"):
                self._remove(state, crds, crd)
                continue
            if established(crd):
                continue
            new = copy.deepcopy(crd)
            now = state.clock.stamp()
            names = dict(crd["spec"]["names"])
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
            new["status"] = {
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "True",
                        "lastTransitionTime": now,
                        "reason": "NoConflicts",
                        "message": "no conflicts found",
                    },
                    {
                        "type": "Established",
                        "status": "True",
                        "lastTransitionTime": now,
                        "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted",
                    },
                ],
                "acceptedNames": names,
                "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
            }
            stored = store.put(crds, new, "MODIFIED", crd)
            serve(state.registry, stored)
        return False

    @staticmethod
    def _remove(state, crds: ResourceType, crd: dict) -> None:
        store, spec = state.store, crd["spec"]
        for rtype in state.registry.any_version(spec["group"], spec["names"]["plural"])[:1]:
            for obj in list(store.bucket(rtype).values()):
                store.remove(rtype, obj)
        state.registry.remove_crd(crd["metadata"]["name"])
        store.drop_kind(spec["group"], spec["names"]["plural"])
        drop_finalizer(store, crds, crd, CRD_CLEANUP_FINALIZER)


def serve(registry, crd: dict) -> None:
    """Register (again) the served versions of an Established CRD."""
    if not established(crd):
        return
    name = crd["metadata"]["name"]
    registry.remove_crd(name)
    spec = crd["spec"]
    names = spec["names"]
    served = sorted(
        (v for v in spec["versions"] if v.get("served")), key=lambda v: version_priority(v["name"])
    )
    for version in served:
        subresources = version.get("subresources") or {}
        sub = {}
        if "status" in subresources:
            sub["status"] = (names["kind"], None, None, ("get", "patch", "update"))
        if "scale" in subresources:
            sub["scale"] = ("Scale", "autoscaling", "v1", ("get", "patch", "update"))
        registry.add(
            ResourceType(
                spec["group"],
                version["name"],
                names["plural"],
                names["kind"],
                spec["scope"] == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=sub,
                status_subresource="status" in subresources,
                tracks_generation=True,
                crd_name=name,
                verbs=CUSTOM_RESOURCE_VERBS,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                storage_version_hash=b64url(
                    hashlib.sha256(f"{spec['group']}/{version['name']}/{names['kind']}".encode()).digest()[:8]
                )
                + "=",
                served_versions=tuple(v["name"] for v in served),
            )
        )
