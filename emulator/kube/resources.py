"""Which resources the emulated API server serves, and what discovery says about them.

Built-in kinds mirror the discovery documents of kube-apiserver v1.28.7 (names, verbs, short names,
categories); CustomResourceDefinitions add more at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CRUD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)
SUBRESOURCE_VERBS = ("get", "patch", "update")


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    verbs: tuple = CRUD
    short_names: tuple = ()
    categories: tuple = ()
    subresources: dict = field(default_factory=dict)  # name -> (kind, group, version, verbs)
    storage_version_hash: str = ""
    # Behaviour flags, what the real registry strategies do.
    tracks_generation: bool = False  # metadata.generation bumped on spec changes
    status_subresource: bool = False  # status ignored on the main resource, served on /status
    returns_deleted_object: bool = False  # DELETE answers the object instead of a Success Status
    virtual: bool = False  # create-only reviews: nothing is stored
    crd_name: str | None = None  # set for custom resources
    schema: dict | None = None  # openAPIV3Schema of the served version (custom resources)
    served_versions: tuple = ()  # all versions a custom resource is served at

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def discovery_entries(self) -> list[dict]:
        entry = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        if self.storage_version_hash:
            entry["storageVersionHash"] = self.storage_version_hash
        entries = [entry]
        for name, (kind, group, version, verbs) in sorted(self.subresources.items()):
            sub = {
                "name": f"{self.plural}/{name}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            if group is not None:
                sub["group"], sub["version"] = group, version
            entries.append(sub)
        return entries


def _status():
    return {"status": ("", None, None, SUBRESOURCE_VERBS)}


def _scale_and_status():
    return {
        "status": ("", None, None, SUBRESOURCE_VERBS),
        "scale": ("Scale", "autoscaling", "v1", SUBRESOURCE_VERBS),
    }


def _builtin_types() -> list[ResourceType]:
    R = ResourceType
    types = [
        R(
            "",
            "v1",
            "configmaps",
            "ConfigMap",
            True,
            short_names=("cm",),
            storage_version_hash="qFsyl6wFWjQ=",
        ),
        R("", "v1", "events", "Event", True, short_names=("ev",), storage_version_hash="r2yiGXH7wu8="),
        R(
            "",
            "v1",
            "namespaces",
            "Namespace",
            False,
            short_names=("ns",),
            returns_deleted_object=True,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            subresources={"status": ("", None, None, SUBRESOURCE_VERBS)},
            status_subresource=True,
            storage_version_hash="Q3oi5N2YM8M=",
        ),
        R(
            "",
            "v1",
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            True,
            short_names=("pvc",),
            subresources=_status(),
            status_subresource=True,
            storage_version_hash="QWTyNDq0dC4=",
        ),
        # Served so that discovery lists what a real server lists: reviews of the pipeline's
        # accounts ask about persistentvolumes, and a resource missing from discovery is asked
        # for again on every run.
        R(
            "",
            "v1",
            "persistentvolumes",
            "PersistentVolume",
            False,
            short_names=("pv",),
            subresources=_status(),
            status_subresource=True,
            storage_version_hash="HN/zwEC+JgM=",
        ),
        R(
            "",
            "v1",
            "pods",
            "Pod",
            True,
            short_names=("po",),
            categories=("all",),
            returns_deleted_object=True,
            subresources={
                "log": ("Pod", None, None, ("get",)),
                "status": ("", None, None, SUBRESOURCE_VERBS),
            },
            status_subresource=True,
            storage_version_hash="xPOwRZ+Yhw8=",
        ),
        R("", "v1", "secrets", "Secret", True, storage_version_hash="S6u1pOWzb84="),
        R(
            "",
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            True,
            short_names=("sa",),
            subresources={"token": ("TokenRequest", "authentication.k8s.io", "v1", CREATE_ONLY)},
            storage_version_hash="pbx9ZvyFpBE=",
        ),
        R(
            "",
            "v1",
            "services",
            "Service",
            True,
            short_names=("svc",),
            categories=("all",),
            returns_deleted_object=True,
            subresources=_status(),
            status_subresource=True,
            storage_version_hash="0/CO1lhkEBI=",
        ),
        R(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            False,
            storage_version_hash="48tpQ8gZHFc=",
        ),
        R(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "ClusterRole",
            False,
            storage_version_hash="bYE5ZWDrJ44=",
        ),
        R(
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "RoleBinding",
            True,
            storage_version_hash="eGsCzGH6b1g=",
        ),
        R("rbac.authorization.k8s.io", "v1", "roles", "Role", True, storage_version_hash="7FuwZcIIItM="),
        R(
            "authorization.k8s.io",
            "v1",
            "localsubjectaccessreviews",
            "LocalSubjectAccessReview",
            True,
            verbs=CREATE_ONLY,
            virtual=True,
        ),
        R(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            False,
            verbs=CREATE_ONLY,
            virtual=True,
        ),
        R(
            "authorization.k8s.io",
            "v1",
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            False,
            verbs=CREATE_ONLY,
            virtual=True,
        ),
        R(
            "authorization.k8s.io",
            "v1",
            "subjectaccessreviews",
            "SubjectAccessReview",
            False,
            verbs=CREATE_ONLY,
            virtual=True,
        ),
        R(
            "authentication.k8s.io",
            "v1",
            "selfsubjectreviews",
            "SelfSubjectReview",
            False,
            verbs=CREATE_ONLY,
            virtual=True,
        ),
        R(
            "authentication.k8s.io",
            "v1",
            "tokenreviews",
            "TokenReview",
            False,
            verbs=CREATE_ONLY,
            virtual=True,
        ),
        R(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            subresources=_status(),
            status_subresource=True,
            tracks_generation=True,
            returns_deleted_object=True,
            storage_version_hash="jfWCUB31mvA=",
        ),
        R(
            "apps",
            "v1",
            "controllerrevisions",
            "ControllerRevision",
            True,
            storage_version_hash="85nkx63pcBU=",
        ),
        R(
            "apps",
            "v1",
            "deployments",
            "Deployment",
            True,
            short_names=("deploy",),
            categories=("all",),
            subresources=_scale_and_status(),
            status_subresource=True,
            tracks_generation=True,
            storage_version_hash="8aSe+NMegvE=",
        ),
        R(
            "apps",
            "v1",
            "replicasets",
            "ReplicaSet",
            True,
            short_names=("rs",),
            categories=("all",),
            subresources=_scale_and_status(),
            status_subresource=True,
            tracks_generation=True,
            storage_version_hash="P1RzHs8/mWQ=",
        ),
        R(
            "apps",
            "v1",
            "statefulsets",
            "StatefulSet",
            True,
            short_names=("sts",),
            categories=("all",),
            subresources=_scale_and_status(),
            status_subresource=True,
            tracks_generation=True,
            storage_version_hash="H+vl74LkKdo=",
        ),
        R(
            "batch",
            "v1",
            "cronjobs",
            "CronJob",
            True,
            short_names=("cj",),
            categories=("all",),
            subresources=_status(),
            status_subresource=True,
            tracks_generation=True,
            storage_version_hash="sd5LIXh4Fjs=",
        ),
        R(
            "batch",
            "v1",
            "jobs",
            "Job",
            True,
            categories=("all",),
            subresources=_status(),
            status_subresource=True,
            tracks_generation=True,
            storage_version_hash="mudhfqk/qZY=",
        ),
        R(
            "networking.k8s.io",
            "v1",
            "ingressclasses",
            "IngressClass",
            False,
            tracks_generation=True,
            storage_version_hash="l/iqIbDgFyQ=",
        ),
        R(
            "networking.k8s.io",
            "v1",
            "ingresses",
            "Ingress",
            True,
            short_names=("ing",),
            subresources=_status(),
            status_subresource=True,
            tracks_generation=True,
            storage_version_hash="39NQlfNR+bo=",
        ),
        R(
            "networking.k8s.io",
            "v1",
            "networkpolicies",
            "NetworkPolicy",
            True,
            short_names=("netpol",),
            tracks_generation=True,
            storage_version_hash="YpfwF18m1G8=",
        ),
        R(
            "policy",
            "v1",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            True,
            short_names=("pdb",),
            subresources=_status(),
            status_subresource=True,
            tracks_generation=True,
            storage_version_hash="EVWiDmWqyJw=",
        ),
        R("coordination.k8s.io", "v1", "leases", "Lease", True, storage_version_hash="gqkMMb/YqFM="),
    ]
    for t in types:
        t.singular = t.singular or t.kind.lower()
        for name, (kind, group, version, verbs) in list(t.subresources.items()):
            if not kind:  # status subresources report the parent kind
                t.subresources[name] = (t.kind, group, version, verbs)
    return types


class ResourceRegistry:
    """The served resource types, looked up by (group, version, plural)."""

    def __init__(self):
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._group_order: list[str] = []
        for t in _builtin_types():
            self.add(t)

    def add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
        if rtype.group not in self._group_order:
            self._group_order.append(rtype.group)

    def remove_crd(self, crd_name: str) -> None:
        for key, t in list(self._types.items()):
            if t.crd_name == crd_name:
                del self._types[key]
        groups = {t.group for t in self._types.values()}
        self._group_order = [g for g in self._group_order if g in groups]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for t in self._types.values():
            if t.group == group and t.version == version and t.kind == kind:
                return t
        return None

    def any_version(self, group: str, plural: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.group == group and t.plural == plural]

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions in preference order (custom resources keep their CRD's order)."""
        result: dict[str, list[str]] = {}
        for group in self._group_order:
            versions = []
            for t in self._types.values():
                if t.group == group and t.version not in versions:
                    versions.append(t.version)
            if versions:
                result[group] = sorted(versions, key=version_priority)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (t for t in self._types.values() if t.group == group and t.version == version),
            key=lambda t: t.plural,
        )

    def all(self) -> list[ResourceType]:
        return list(self._types.values())


def version_priority(version: str):
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0), version)
