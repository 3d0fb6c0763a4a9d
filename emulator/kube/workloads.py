"""A workload simulator: what the kube-controller-manager and kubelets would report about
Deployments, StatefulSets, ReplicaSets, Jobs and PersistentVolumeClaims, without running anything.

Shortly (`delay` seconds) after a workload is created or its spec changes, its status says it is
ready (or complete, or bound), shaped as the real controllers write it, so waiting clients
(`helm --wait`, kstatus, the project's modules) see what they would see on a real cluster. A
workload whose kind and name match a registered failure fails instead: a Job reports
`Failed` (BackoffLimitExceeded), a Deployment `ProgressDeadlineExceeded`. Switch it off with
`enabled = False` to keep workloads pending forever.

Like the StatefulSet controller, it also creates each StatefulSet's PersistentVolumeClaims from
its volumeClaimTemplates (owned by the set when its retention policy deletes them with it), so
uninstalling a chart removes or keeps them as on a real cluster.
"""

from __future__ import annotations

import contextlib
import copy
import re
import threading
import time
from dataclasses import dataclass

from emulator.kube import exceptions
from emulator.kube.models import ClusterState, RequestContext

SIMULATED = {
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("", "persistentvolumeclaims"),
}


@dataclass
class Failure:
    kind: str
    name: re.Pattern


class WorkloadSimulator:
    def __init__(self, delay: float = 0.2, enabled: bool = True):
        self.delay = delay
        self.enabled = enabled
        self._lock = threading.Lock()
        self._failures: list[Failure] = []
        self._first_seen: dict[tuple[str, int], float] = {}  # (uid, generation) -> monotonic time

    def fail(self, kind: str, name: str = ".*") -> None:
        """Workloads of `kind` (e.g. "Job", "Deployment") whose name matches the regular expression
        `name` (fully) fail instead of becoming ready."""
        if kind not in ("Deployment", "StatefulSet", "ReplicaSet", "Job", "PersistentVolumeClaim"):
            raise ValueError(f"the workload simulator does not run {kind!r} objects")
        with self._lock:
            self._failures.append(Failure(kind, re.compile(name)))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def _fails(self, kind: str, name: str) -> bool:
        with self._lock:
            return any(f.kind == kind and f.name.fullmatch(name) for f in self._failures)

    # A ClusterState controller: called on every reconcile pass; True while work is still due.
    def __call__(self, state: ClusterState) -> bool:
        if not self.enabled:
            return False
        pending = False
        now = time.monotonic()
        ctx = RequestContext(default_manager="kube-controller-manager")
        for group, plural in SIMULATED:
            rtype = state.registry.get(group, "v1", plural)
            for obj in list(state.store.bucket(rtype).values()):
                metadata = obj["metadata"]
                if metadata.get("deletionTimestamp"):
                    continue
                generation = metadata.get("generation", 0)
                if self._settled(obj):
                    continue
                if obj["kind"] == "StatefulSet":
                    self._claim_volumes(state, obj, ctx)
                key = (metadata["uid"], generation)
                first = self._first_seen.setdefault(key, now)
                if now - first < self.delay:
                    pending = True
                    continue
                status = self._status(obj, state.clock.stamp(), self._fails(obj["kind"], metadata["name"]))
                try:
                    state.update(
                        rtype,
                        metadata.get("namespace", ""),
                        metadata["name"],
                        {**obj, "status": status},
                        ctx,
                        subresource="status",
                    )
                except exceptions.ApiError:
                    pending = True  # changed meanwhile: try again on the next pass
        return pending

    @staticmethod
    def _claim_volumes(state: ClusterState, statefulset: dict, ctx: RequestContext) -> None:
        """What the StatefulSet controller does before it creates each pod: a PVC per
        volumeClaimTemplate and ordinal, "<template>-<set>-<ordinal>", labelled with the template's
        labels and the set's selector, and owned by the set when its retention policy deletes
        claims with it (so the garbage collector removes them on uninstall, as on v1.28.7)."""
        metadata, spec = statefulset["metadata"], statefulset.get("spec") or {}
        namespace = metadata["namespace"]
        claims = state.registry.get("", "v1", "persistentvolumeclaims")
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        owned = retention.get("whenDeleted") == "Delete"
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        for template in spec.get("volumeClaimTemplates") or []:
            for ordinal in range(spec.get("replicas", 1)):
                name = f"{template['metadata']['name']}-{metadata['name']}-{ordinal}"
                if state.find(claims, namespace, name) is not None:
                    continue  # the real controller never adopts or rewrites an existing claim
                claim_metadata = {
                    "name": name,
                    "namespace": namespace,
                    "labels": {**(template["metadata"].get("labels") or {}), **selector},
                }
                if template["metadata"].get("annotations"):
                    claim_metadata["annotations"] = dict(template["metadata"]["annotations"])
                if owned:
                    claim_metadata["ownerReferences"] = [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "StatefulSet",
                            "name": metadata["name"],
                            "uid": metadata["uid"],
                        }
                    ]
                body = {"metadata": claim_metadata, "spec": copy.deepcopy(template.get("spec") or {})}
                # Refused e.g. in a terminating namespace: the real controller fails the same way.
                with contextlib.suppress(exceptions.ApiError):
                    state.create(claims, namespace, body, ctx)

    @staticmethod
    def _settled(obj: dict) -> bool:
        status = obj.get("status") or {}
        kind = obj["kind"]
        if kind == "PersistentVolumeClaim":
            return status.get("phase") in ("Bound", "Lost")
        if kind == "Job":
            return any(
                c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
        return status.get("observedGeneration") == obj["metadata"].get("generation")

    @staticmethod
    def _status(obj: dict, now: str, failing: bool) -> dict:
        kind, spec, name = obj["kind"], obj.get("spec") or {}, obj["metadata"]["name"]
        generation = obj["metadata"].get("generation", 1)
        if kind == "PersistentVolumeClaim":
            if failing:
                return {"phase": "Pending"}
            requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            return {
                "phase": "Bound",
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": requested},
            }
        if kind == "Job":
            completions = spec.get("completions", 1)
            if failing:
                return {
                    "startTime": now,
                    "failed": spec.get("backoffLimit", 6) + 1,
                    "ready": 0,
                    "uncountedTerminatedPods": {},
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "lastProbeTime": now,
                            "lastTransitionTime": now,
                            "reason": "BackoffLimitExceeded",
                            "message": "Job has reached the specified backoff limit",
                        }
                    ],
                }
            return {
                "startTime": now,
                "completionTime": now,
                "succeeded": completions,
                "ready": 0,
                "uncountedTerminatedPods": {},
                "conditions": [
                    {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
                ],
            }
        replicas = spec.get("replicas", 1)
        ready = 0 if failing else replicas
        status: dict = {"observedGeneration": generation, "replicas": replicas}
        if kind == "Deployment":
            status.update({"updatedReplicas": replicas})
            if ready:
                status.update({"readyReplicas": ready, "availableReplicas": ready})
            else:
                status["unavailableReplicas"] = replicas
            available = {
                "type": "Available",
                "status": "True" if ready or not replicas else "False",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
                "reason": "MinimumReplicasAvailable"
                if ready or not replicas
                else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if ready or not replicas
                else "Deployment does not have minimum availability.",
            }
            progressing = {
                "type": "Progressing",
                "status": "False" if failing else "True",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
                "reason": "ProgressDeadlineExceeded" if failing else "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}-{generation:x}" has timed out progressing.'
                if failing
                else f'ReplicaSet "{name}-{generation:x}" has successfully progressed.',
            }
            status["conditions"] = [available, progressing]
        elif kind == "StatefulSet":
            revision = f"{name}-{generation:x}"
            status.update(
                {
                    "currentReplicas": replicas,
                    "updatedReplicas": replicas,
                    "currentRevision": revision,
                    "updateRevision": revision,
                    "collisionCount": 0,
                    "availableReplicas": ready,
                }
            )
            if ready:
                status["readyReplicas"] = ready
        else:  # ReplicaSet
            status.update({"fullyLabeledReplicas": replicas, "availableReplicas": ready})
            if ready:
                status["readyReplicas"] = ready
        return status
