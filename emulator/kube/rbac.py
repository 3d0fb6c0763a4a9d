"""Authentication identities and RBAC authorization, evaluated the way kube-apiserver does:
`system:masters` is always allowed, everything else needs a rule from a (Cluster)RoleBinding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RBAC_FILE = Path(__file__).with_name("default_rbac.json")
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass
class Identity:
    user: str
    groups: list[str] = field(default_factory=list)
    uid: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def service_account(cls, namespace: str, name: str, uid: str = "") -> Identity:
        return cls(
            f"system:serviceaccount:{namespace}:{name}",
            ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            uid,
        )

    @property
    def privileged(self) -> bool:
        return "system:masters" in self.groups

    def describe_groups(self) -> str:
        return "[" + " ".join(json.dumps(g) for g in self.groups) + "]"


ANONYMOUS = Identity("system:anonymous", ["system:unauthenticated"])


@dataclass
class Attributes:
    verb: str
    namespace: str = ""
    group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""  # non-resource requests only

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


def default_objects() -> dict[str, list[dict]]:
    """The bootstrap ClusterRoles and ClusterRoleBindings (cluster-admin, admin, edit, view, …)."""
    return json.loads(DEFAULT_RBAC_FILE.read_text())


def _subject_matches(subject: dict, identity: Identity, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == identity.user
    if kind == "Group":
        return subject.get("name") in identity.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return identity.user == f"system:serviceaccount:{namespace}:{subject.get('name')}"
    return False


def _subject_text(subject: dict, binding_namespace: str) -> str:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{subject.get("name")}"'


def rule_allows(rule: dict, attrs: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.is_resource:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1])):
                return True
        return False
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    resources = rule.get("resources") or []
    if not any(
        r == "*"
        or r == combined
        or (attrs.subresource and r == "*/" + attrs.subresource)
        or (r.endswith("/*") and attrs.subresource and r[:-2] == attrs.resource)
        for r in resources
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


class Authorizer:
    """RBAC decisions over the objects a store holds. `lookup(plural, namespace, name)` and
    `objects(plural)` read RBAC objects from the store."""

    def __init__(self, objects, lookup):
        self._objects = objects
        self._lookup = lookup

    def _role_rules(self, role_ref: dict, namespace: str) -> list[dict]:
        if role_ref.get("kind") == "ClusterRole":
            role = self._lookup("clusterroles", "", role_ref.get("name"))
        else:
            role = self._lookup("roles", namespace, role_ref.get("name"))
        return (role or {}).get("rules") or []

    def _bindings(self, identity: Identity, namespace: str):
        """(binding description, rules) for every binding that applies to `identity` in `namespace`."""
        for binding in self._objects("clusterrolebindings"):
            for subject in binding.get("subjects") or []:
                if _subject_matches(subject, identity, ""):
                    ref = binding.get("roleRef") or {}
                    why = (
                        f'ClusterRoleBinding "{binding["metadata"]["name"]}" of ClusterRole '
                        f'"{ref.get("name")}" to {_subject_text(subject, "")}'
                    )
                    yield why, self._role_rules(ref, "")
                    break
        if not namespace:
            return
        for binding in self._objects("rolebindings"):
            if binding["metadata"].get("namespace") != namespace:
                continue
            for subject in binding.get("subjects") or []:
                if _subject_matches(subject, identity, namespace):
                    ref = binding.get("roleRef") or {}
                    why = (
                        f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of {ref.get("kind")} '
                        f'"{ref.get("name")}" to {_subject_text(subject, namespace)}'
                    )
                    yield why, self._role_rules(ref, namespace)
                    break

    def authorize(self, identity: Identity, attrs: Attributes) -> tuple[bool, str]:
        if identity.privileged:
            return True, ""
        for why, rules in self._bindings(identity, attrs.namespace if attrs.is_resource else ""):
            if any(rule_allows(rule, attrs) for rule in rules):
                return True, f"RBAC: allowed by {why}"
        return False, ""

    def rules_for(self, identity: Identity, namespace: str) -> tuple[list[dict], list[dict]]:
        """(resource rules, non-resource rules) as SelfSubjectRulesReview reports them."""
        resource_rules, non_resource_rules = [], []
        for _, rules in self._bindings(identity, namespace):
            for rule in rules:
                if rule.get("nonResourceURLs"):
                    non_resource_rules.append(
                        {"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}
                    )
                else:
                    entry = {
                        "verbs": rule.get("verbs") or [],
                        "apiGroups": rule.get("apiGroups") or [],
                        "resources": rule.get("resources") or [],
                    }
                    if rule.get("resourceNames"):
                        entry["resourceNames"] = rule["resourceNames"]
                    resource_rules.append(entry)
        return resource_rules, non_resource_rules

    def covers(self, identity: Identity, namespace: str, rules: list[dict]) -> list[dict]:
        """The rules (expanded to single verb/resource triples) `identity` does not itself hold: what
        creating a role with `rules` would escalate."""
        missing = []
        for rule in rules:
            if rule.get("nonResourceURLs"):
                for url in rule["nonResourceURLs"]:
                    for verb in rule.get("verbs") or []:
                        if not self.authorize(identity, Attributes(verb=verb, path=url))[0]:
                            missing.append({"NonResourceURLs": [url], "Verbs": [verb]})
                continue
            for group in rule.get("apiGroups") or [""]:
                for resource in rule.get("resources") or []:
                    base, _, sub = resource.partition("/")
                    for verb in rule.get("verbs") or []:
                        names = rule.get("resourceNames") or [""]
                        for name in names:
                            attrs = Attributes(
                                verb=verb,
                                namespace=namespace,
                                group=group,
                                resource=base,
                                subresource=sub,
                                name=name,
                            )
                            if not self._holds(identity, attrs):
                                entry = {"APIGroups": [group], "Resources": [resource], "Verbs": [verb]}
                                if name:
                                    entry["ResourceNames"] = [name]
                                missing.append(entry)
        return missing

    def _holds(self, identity: Identity, attrs: Attributes) -> bool:
        """Whether some rule held by `identity` covers `attrs` as literally (wildcards included)."""
        if identity.privileged:
            return True
        for _, rules in self._bindings(identity, attrs.namespace):
            for rule in rules:
                if _rule_covers(rule, attrs):
                    return True
        return False


def _rule_covers(rule: dict, attrs: Attributes) -> bool:
    verbs, groups, resources = (
        rule.get("verbs") or [],
        rule.get("apiGroups") or [],
        rule.get("resources") or [],
    )
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if "*" not in groups and attrs.group not in groups:
        return False
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    if "*" not in resources and combined not in resources:
        return False
    names = rule.get("resourceNames") or []
    return not names or (attrs.name in names)


def format_missing(missing: list[dict]) -> str:
    """The rule list in a 403 escalation message, as Go prints rbac PolicyRules."""
    parts = []
    for entry in missing:
        fields = []
        for key in ("APIGroups", "Resources", "ResourceNames", "NonResourceURLs", "Verbs"):
            if key in entry:
                fields.append(f"{key}:[" + " ".join(json.dumps(v) for v in entry[key]) + "]")
        parts.append("{" + ", ".join(fields) + "}")
    return "\n".join(parts)
