"""The namespace controller: a deleted namespace stays `Terminating` at least `finalize_delay`
seconds (the real controller's pace), its content is deleted, and once it is empty the
`kubernetes` finalizer is dropped and the namespace removed."""

from __future__ import annotations

import copy
import time

from emulator.kube.context import system
from emulator.kube.storage import order_metadata


class NamespaceLifecycle:
    def __init__(self, finalize_delay: float = 0.2):
        self.finalize_delay = finalize_delay
        self._deleted_at: dict[str, float] = {}  # name -> monotonic time of the deletion

    @staticmethod
    def concerns(event) -> bool:
        # A terminating namespace keeps it pending (so it runs anyway) until its content is gone.
        return event.key == ("", "namespaces")

    def terminating(self, name: str) -> None:
        """Called by the write path when a namespace is deleted."""
        self._deleted_at[name] = time.monotonic()

    def __call__(self, state) -> bool:
        store = state.store
        namespaces = state.registry.get("", "v1", "namespaces")
        pending = False
        for (_, name), ns in list(store.bucket(namespaces).items()):
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            deleted_at = self._deleted_at.setdefault(name, time.monotonic())
            if time.monotonic() - deleted_at < self.finalize_delay:
                pending = True
                continue
            for rtype in store.unique_types():
                if not rtype.namespaced or rtype.virtual:
                    continue
                for (obj_ns, obj_name), obj in list(store.bucket(rtype).items()):
                    if obj_ns == name and not obj["metadata"].get("deletionTimestamp"):
                        state.delete(rtype, obj_ns, obj_name, system("namespace-controller"), "Background")
            if any(
                o_ns == name for t in store.unique_types() if t.namespaced for (o_ns, _) in store.bucket(t)
            ):
                pending = True
                continue
            spec_finalizers = (ns.get("spec") or {}).get("finalizers") or []
            if "kubernetes" in spec_finalizers:
                new = copy.deepcopy(ns)
                new["spec"]["finalizers"] = [f for f in spec_finalizers if f != "kubernetes"]
                ns = store.put(namespaces, order_metadata(new), "MODIFIED", ns)
            if not (ns["metadata"].get("finalizers") or (ns.get("spec") or {}).get("finalizers")):
                store.remove(namespaces, ns)
        return pending
