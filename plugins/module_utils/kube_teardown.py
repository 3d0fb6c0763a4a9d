"""What a teardown removes, found on the live cluster: the objects carrying the project's labels in
its namespaces, the runs of its Pipelines and Tasks, the objects its Helm releases made, the
releases' records, and (when asked, or when nothing else is left in them) the namespaces.

    finder = TeardownFinder(service)
    plan = finder.plan(namespaces=["health-ci", "health"],
                       label_selector="app.kubernetes.io/part-of=tekton-cd",
                       helm_releases=[{"name": "health", "namespace": "health"}],
                       delete_namespaces="when_empty")
    plan.deletions      # Items to delete, in order (runs first, namespaces last)
    plan.kept           # what stays, each with the reason (someone else's object, resource-policy keep)

Everything is read first (a LIST per namespaced kind and namespace, nothing else), so check mode
can list the whole plan without sending a single write. Objects owned (ownerReferences) by an
object being deleted are not deleted one by one: the garbage collector removes them with their
owner, as it does for what a Deployment or a TaskRun makes.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from dataclasses import dataclass, field

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

# Kinds whose objects are records of what happened, never something the project made.
RECORD_KINDS = {("v1", "Event"), ("events.k8s.io/v1", "Event")}
# Objects the cluster itself makes in every namespace (Kubernetes, then OpenShift): they neither
# belong to the project nor make a namespace "someone else's".
CLUSTER_DEFAULTS = {
    ("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt"),
    ("ServiceAccount", "builder"), ("ServiceAccount", "deployer"),
    ("ConfigMap", "openshift-service-ca.crt"),
    ("RoleBinding", "system:image-pullers"), ("RoleBinding", "system:image-builders"),
    ("RoleBinding", "system:deployers"),
}
SERVICE_ACCOUNT_SECRET_TYPES = ("kubernetes.io/service-account-token", "kubernetes.io/dockercfg")
# Deleted first, so that no controller acts on a run while its definitions go away.
RUN_KINDS = ("PipelineRun", "TaskRun", "CustomRun")
HELM_KEEP = "helm.sh/resource-policy"


@dataclass(frozen=True)
class Item:
    """One object of the plan: its identity, and why it is deleted or kept."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    why: str
    uid: str | None = None

    @property
    def ref(self):
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def as_result(self):
        found = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "why": self.why}
        if self.namespace:
            found["namespace"] = self.namespace
        return found


@dataclass
class Plan:
    deletions: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    namespaces_kept: list = field(default_factory=list)  # (name, reason)


# -- label selectors, as the API server evaluates them ---------------------------------------

_REQUIREMENT = re.compile(
    r"^\s*(?P<not>!)?\s*(?P<key>[A-Za-z0-9./_-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)|\s(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def parse_selector(selector):
    """A label selector string as a predicate on a labels dict; KubeError for one it cannot read."""
    requirements = []
    for part in re.split(r",(?![^(]*\))", selector or ""):
        if not part.strip():
            continue
        match = _REQUIREMENT.match(part)
        if not match or (match["not"] and (match["op"] or match["set"])):
            raise KubeError.invalid("label_selector", f"{part.strip()!r} is not a label selector requirement",
                                    "write requirements such as key=value, key!=value, key, !key or "
                                    "key in (a,b), separated by commas")
        requirements.append(match)

    def matches(labels):
        labels = labels or {}
        for req in requirements:
            key = req["key"]
            if req["not"]:
                ok = key not in labels
            elif req["op"] in ("=", "=="):
                ok = labels.get(key) == req["value"]
            elif req["op"] == "!=":
                ok = labels.get(key) != req["value"]
            elif req["set"]:
                values = {v.strip() for v in req["values"].split(",")}
                ok = (labels.get(key) in values) if req["set"] == "in" else (labels.get(key) not in values)
            else:
                ok = key in labels
            if not ok:
                return False
        return True

    return matches


# -- Helm release records --------------------------------------------------------------------

def decode_release(record):
    """The release JSON of a Helm storage record (Secret or ConfigMap, key "release"), or None."""
    text = (record.get("data") or {}).get("release")
    if not text:
        return None
    try:
        raw = base64.b64decode(text)
        if record.get("kind") == "Secret":  # the Secret's own encoding around Helm's
            raw = base64.b64decode(raw)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (ValueError, OSError, EOFError):
        return None


def release_manifests(releases):
    """The objects (apiVersion, kind, name, namespace or None) the release's latest revision holds
    and those every revision's hooks made, from its decoded records."""
    import yaml

    releases = [r for r in releases if r]
    if not releases:
        return []
    latest = max(releases, key=lambda r: r.get("version") or 0)
    texts = [(latest.get("manifest") or "", "in the manifest of")]
    texts += [(hook.get("manifest") or "", "a hook of") for r in releases for hook in r.get("hooks") or []]
    found, seen = [], set()
    for text, how in texts:
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            continue
        for doc in documents:
            if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
                continue
            metadata = doc.get("metadata") or {}
            key = (doc["apiVersion"], doc["kind"], metadata.get("name"), metadata.get("namespace"))
            if key[2] and key not in seen:
                seen.add(key)
                found.append((*key, how))
    return found


# -- finding ----------------------------------------------------------------------------------

class TeardownFinder:
    def __init__(self, service):
        self.service = service
        self.client = service.client
        self._listed_kinds = set()

    def namespaced_kinds(self):
        """(apiVersion, kind, plural) of every namespaced kind served that can be listed and
        deleted, in the preferred version of each API group."""
        found = []

        def add(api_version, answer):
            for resource in answer.get("resources") or []:
                verbs = set(resource.get("verbs") or [])
                if "/" in resource.get("name", "/") or not resource.get("namespaced"):
                    continue
                if {"list", "delete"} <= verbs and (api_version, resource["kind"]) not in RECORD_KINDS:
                    found.append((api_version, resource["kind"], resource["name"]))

        add("v1", self.client.request_json("GET", "/api/v1", action="list the resources of", target="API v1"))
        groups = self.client.request_json("GET", "/apis", action="list", target="the served API groups")
        for group in groups.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if not preferred:
                continue
            answer = self.client.request_json("GET", f"/apis/{preferred}", action="list the resources of",
                                              target=f"API {preferred}", missing_ok=True)
            if answer:
                add(preferred, answer)
        return found

    def _list_namespace(self, kinds, namespace):
        objects = []
        for api_version, kind, plural in kinds:
            prefix = "/apis/" if "/" in api_version else "/api/"
            answer = self.client.request_json(
                "GET", f"{prefix}{api_version}/namespaces/{namespace}/{plural}", action="list",
                target=f'{kind} objects in namespace "{namespace}"', missing_ok=True)
            for item in (answer or {}).get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                objects.append(item)
        return objects

    def plan(self, *, namespaces, label_selector, helm_releases, delete_namespaces):
        ours_by_label = parse_selector(label_selector)
        present = {name: self.service.get("v1", "Namespace", name) for name in dict.fromkeys(namespaces)}
        kinds = self.namespaced_kinds() if any(present.values()) else []
        self._listed_kinds = {(api_version, kind) for api_version, kind, _ in kinds}
        listed = {name: self._list_namespace(kinds, name) for name, live in present.items() if live}

        chosen = {}  # uid -> Item, in the order found
        def choose(obj, why):
            metadata = obj["metadata"]
            uid = metadata.get("uid") or f"{obj['kind']}/{metadata.get('namespace')}/{metadata['name']}"
            chosen.setdefault(uid, Item(obj["apiVersion"], obj["kind"], metadata["name"],
                                        metadata.get("namespace"), why, metadata.get("uid")))

        kept = []
        for objects in listed.values():
            for obj in objects:
                if ours_by_label((obj.get("metadata") or {}).get("labels")):
                    choose(obj, f"labelled {label_selector}")
            # Runs of the project's Pipelines and Tasks, whoever started them, and what Tekton made
            # for them: Tekton labels them with the Pipeline's or Task's name.
            pipelines = {o["metadata"]["name"] for o in objects
                         if o["kind"] == "Pipeline" and o["metadata"].get("uid") in chosen}
            tasks = {o["metadata"]["name"] for o in objects
                     if o["kind"] == "Task" and o["metadata"].get("uid") in chosen}
            for obj in objects:
                labels = obj["metadata"].get("labels") or {}
                if labels.get("tekton.dev/pipeline") in pipelines:
                    choose(obj, f"a run of the Pipeline {labels['tekton.dev/pipeline']}")
                elif labels.get("tekton.dev/task") in tasks and "tekton.dev/pipeline" not in labels:
                    choose(obj, f"a run of the Task {labels['tekton.dev/task']}")

        for release in helm_releases:
            self._choose_release(release, listed, choose, kept)

        # Dependents go with their owners (the garbage collector), so only owners are deleted.
        by_uid = {o["metadata"].get("uid"): o for objects in listed.values() for o in objects}
        def owned_by_chosen(obj, depth=0):
            for ref in obj["metadata"].get("ownerReferences") or []:
                if ref.get("uid") in chosen:
                    return True
                owner = by_uid.get(ref.get("uid"))
                if owner is not None and depth < 10 and owned_by_chosen(owner, depth + 1):
                    return True
            return False

        direct = [item for uid, item in chosen.items()
                  if not (uid in by_uid and owned_by_chosen(by_uid[uid]))]
        plan = Plan(kept=kept)
        plan.deletions = sorted(direct, key=lambda i: (i.kind not in RUN_KINDS, i.namespace or ""))

        kept_refs = {(k.kind, k.namespace, k.name) for k in kept}
        for name, objects in listed.items():
            others = [o for o in objects
                      if o["metadata"].get("uid") not in chosen and not owned_by_chosen(o)
                      and not self._made_by_the_cluster(o)]
            for obj in others:
                ref = (obj["kind"], name, obj["metadata"]["name"])
                if ref not in kept_refs:
                    plan.kept.append(Item(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], name,
                                          "not made by tekton-cd", obj["metadata"].get("uid")))
            namespace = present[name]
            ours = ours_by_label((namespace.get("metadata") or {}).get("labels"))
            if delete_namespaces == "always":
                plan.deletions.append(Item("v1", "Namespace", name, None, "delete_namespaces is always",
                                           namespace["metadata"].get("uid")))
            elif delete_namespaces == "when_empty" and ours and not others:
                plan.deletions.append(Item("v1", "Namespace", name, None,
                                           f"labelled {label_selector} and holds nothing else",
                                           namespace["metadata"].get("uid")))
            elif delete_namespaces == "when_empty" and ours:
                plan.namespaces_kept.append(
                    (name, f"it holds {len(others)} object(s) not made by tekton-cd"))
            elif delete_namespaces == "when_empty":
                plan.namespaces_kept.append((name, f"it is not labelled {label_selector}"))
            else:
                plan.namespaces_kept.append((name, "delete_namespaces is never"))
        return plan

    def _choose_release(self, release, listed, choose, kept):
        name, namespace = release["name"], release["namespace"]
        records = [o for o in listed.get(namespace, [])
                   if o["kind"] in ("Secret", "ConfigMap")
                   and (o["metadata"].get("labels") or {}).get("owner") == "helm"
                   and o["metadata"]["labels"].get("name") == name]
        if not records:
            return
        made = release_manifests(map(decode_release, records))
        for api_version, kind, obj_name, obj_namespace, how in made:
            try:
                resource = self.service.resource(api_version, kind)
            except KubeError:
                continue  # its API is no longer served: nothing of it can be left
            where = (obj_namespace or namespace) if resource.namespaced else None
            live = self._find(listed, api_version, kind, obj_name, where)
            if live is None:
                continue
            annotations = live["metadata"].get("annotations") or {}
            if annotations.get(HELM_KEEP) == "keep":
                kept.append(Item(api_version, kind, obj_name, where,
                                 f"Helm release {name} marks it {HELM_KEEP}: keep",
                                 live["metadata"].get("uid")))
                continue
            choose(live, f"{how} the Helm release {name}")
        for record in records:
            choose(record, f"a record of the Helm release {name}")

    def _find(self, listed, api_version, kind, name, namespace):
        """The live object: from the listings when its kind was listed in its namespace, else read."""
        if namespace in listed and (api_version, kind) in self._listed_kinds:
            return next((o for o in listed[namespace]
                         if (o["apiVersion"], o["kind"], o["metadata"]["name"]) == (api_version, kind, name)),
                        None)
        found = self.service.get(api_version, kind, name, namespace)
        if found is not None:
            found.setdefault("apiVersion", api_version)
            found.setdefault("kind", kind)
        return found

    @staticmethod
    def _made_by_the_cluster(obj):
        metadata = obj["metadata"]
        if (obj["kind"], metadata["name"]) in CLUSTER_DEFAULTS:
            return True
        owner_account = (metadata.get("annotations") or {}).get("kubernetes.io/service-account.name")
        return (obj["kind"] == "Secret" and obj.get("type") in SERVICE_ACCOUNT_SECRET_TYPES
                and (("ServiceAccount", owner_account) in CLUSTER_DEFAULTS))
