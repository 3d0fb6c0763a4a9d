"""What the kube-controller-manager (and the apiextensions server) do behind the API, as controllers
of the emulated cluster. A controller is a callable `controller(state) -> bool` that
`ClusterState.reconcile` runs after writes; it returns True while it has work due later. The
built-in ones run first, in this order; `state.controllers` holds the added ones (the workload
simulator, a Tekton controller).

- `service_accounts.DefaultServiceAccounts`: the `default` ServiceAccount of every namespace
- `root_ca.RootCAPublisher`: the `kube-root-ca.crt` ConfigMap of every namespace
- `crds.CRDController`: CRDs become Established and served; deleted ones take their objects along
- `namespaces.NamespaceLifecycle`: terminating namespaces are emptied, then removed
- `garbage_collector.GarbageCollector`: ownerReferences (background, foreground, orphan)
- `pvc_protection.PVCProtection`: a deleted PVC stays while a running pod uses it
"""

from __future__ import annotations

import copy

from emulator.kube.resources import ResourceType
from emulator.kube.storage import Store, order_metadata


def drop_finalizer(store: Store, rtype: ResourceType, obj: dict, finalizer: str) -> None:
    """Remove `finalizer` from the stored object; an object being deleted that has no finalizer
    left is removed."""
    current = store.find(rtype, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
    if current is None:
        return
    new = copy.deepcopy(current)
    new["metadata"]["finalizers"] = [f for f in current["metadata"].get("finalizers") or [] if f != finalizer]
    if not new["metadata"]["finalizers"]:
        del new["metadata"]["finalizers"]
        stored = store.put(rtype, order_metadata(new), "MODIFIED", current)
        store.remove(rtype, stored)
    else:
        store.put(rtype, order_metadata(new), "MODIFIED", current)
