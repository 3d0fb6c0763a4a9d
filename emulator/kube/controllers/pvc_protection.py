"""The pvc-protection controller: a deleted PVC keeps its `kubernetes.io/pvc-protection` finalizer
while a pod that has not finished still mounts it, and loses it (so is removed) once none does."""

from __future__ import annotations

from emulator.kube.controllers import drop_finalizer

PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"


class PVCProtection:
    @staticmethod
    def concerns(event) -> bool:
        return event.key in (("", "persistentvolumeclaims"), ("", "pods"))

    def __call__(self, state) -> bool:
        store = state.store
        claims, pods = (
            state.registry.get("", "v1", "persistentvolumeclaims"),
            state.registry.get("", "v1", "pods"),
        )
        for claim in list(store.bucket(claims).values()):
            metadata = claim["metadata"]
            if not metadata.get("deletionTimestamp") or PVC_PROTECTION_FINALIZER not in (
                metadata.get("finalizers") or []
            ):
                continue
            in_use = any(
                pod["metadata"].get("namespace") == metadata["namespace"]
                and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                and any(
                    (volume.get("persistentVolumeClaim") or {}).get("claimName") == metadata["name"]
                    for volume in (pod.get("spec") or {}).get("volumes") or []
                )
                for pod in store.bucket(pods).values()
            )
            if not in_use:
                drop_finalizer(store, claims, claim, PVC_PROTECTION_FINALIZER)
        return False
