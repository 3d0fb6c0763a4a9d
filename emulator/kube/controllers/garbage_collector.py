"""The garbage collector: dependents whose owners are all gone are deleted (in the background);
owners deleted in the foreground wait for their dependents; orphaning owners release them."""

from __future__ import annotations

import copy

from emulator.kube.context import system
from emulator.kube.controllers import drop_finalizer
from emulator.kube.storage import order_metadata


class GarbageCollector:
    @staticmethod
    def concerns(event) -> bool:
        """Only a deletion, an object being deleted, or one with owners can leave it work."""
        metadata = event.obj["metadata"]
        return event.type == "DELETED" or bool(
            metadata.get("deletionTimestamp") or metadata.get("ownerReferences")
        )

    def __call__(self, state) -> bool:
        store = state.store
        index = store.all_by_uid()
        gc = system("generic-garbage-collector")

        def exists(rtype, obj) -> bool:
            return (
                store.find(rtype, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) is not None
            )

        dependents: dict[str, list] = {}
        for rtype, obj in index.values():
            for ref in obj["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid"), []).append((rtype, obj))
        # Owners being deleted in the foreground or orphaning their dependents.
        for uid, (rtype, owner) in list(index.items()):
            finalizers = owner["metadata"].get("finalizers") or []
            if not owner["metadata"].get("deletionTimestamp"):
                continue
            children = [(t, o) for t, o in dependents.get(uid, []) if exists(t, o)]
            if "orphan" in finalizers:
                for child_type, child in children:
                    new = copy.deepcopy(child)
                    new["metadata"]["ownerReferences"] = [
                        r for r in child["metadata"]["ownerReferences"] if r.get("uid") != uid
                    ]
                    if not new["metadata"]["ownerReferences"]:
                        del new["metadata"]["ownerReferences"]
                    store.put(child_type, order_metadata(new), "MODIFIED", child)
                drop_finalizer(store, rtype, owner, "orphan")
            elif "foregroundDeletion" in finalizers:
                for child_type, child in children:
                    if not child["metadata"].get("deletionTimestamp"):
                        state.delete(
                            child_type,
                            child["metadata"].get("namespace", ""),
                            child["metadata"]["name"],
                            gc,
                            "Foreground",
                        )
                if not any(exists(t, o) for t, o in children):
                    drop_finalizer(store, rtype, owner, "foregroundDeletion")
        # Dependents whose owners are all gone.
        index = store.all_by_uid()
        for rtype, obj in list(index.values()):
            refs = obj["metadata"].get("ownerReferences") or []
            if not refs or obj["metadata"].get("deletionTimestamp"):
                continue
            if all(ref.get("uid") not in index for ref in refs) and exists(rtype, obj):
                state.delete(
                    rtype, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], gc, "Background"
                )
        return False
