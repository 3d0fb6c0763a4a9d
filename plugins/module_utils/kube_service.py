"""What modules do with Kubernetes objects: read, apply, create, update, delete, wait.

    service = KubeService(connect(params), check_mode=check_mode)
    change = service.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {...}})
    change.changed, change.after, change.diff()          # Change: decided from the API's answers
    changes = service.apply_all([obj1, obj2, ...])       # one read per kind, not per object or namespace
    live = service.read_all(objects)                     # the same reads, for checks before applying:
    live.of(obj)                                         #   the live counterpart of obj, or None
    service.missing_namespaces(objects, live)            #   namespaces to create first
    changes = service.apply_all(objects, live=live)      #   then no second read
    service.get("v1", "Secret", "name", "ns")            # dict or None
    results = service.map_concurrently(work, items)      # work(service, item) on several connections
    service.list("v1", "Secret", "ns", label_selector="app=x")
    service.create(token_request, subresource_of=("v1", "ServiceAccount", "builder"))
    service.update("v1", "ServiceAccount", "builder", "ns", mutate)   # GET + PUT, re-read on 409
    service.delete("v1", "Namespace", "ci", wait=True, timeout=120)
    service.wait_for("v1", "Namespace", "ci", condition="status.phase == 'Active'", timeout=60)
    for key, event, obj in service.follow({"runs": Selection("tekton.dev/v1", "PipelineRun", "ci",
                                                            label_selector="app=x")}, timeout=600):
        ...                                              # LISTED, then every watch event, until break
    service.log("build-pod", "ci", container="step-push", tail_lines=20)   # a pod's log, as text

Apply is server-side apply with field manager ``tekton-cd``. Before writing, the live object is
read; when it already holds every desired value and our manager's managedFields entry owns
exactly the desired fields, nothing is sent (a no-op run makes zero writes). Otherwise the apply is
sent, with ``dryRun=All`` in check mode, and ``changed`` comes from the answer: a new
resourceVersion, or (dry run) a different object. Waits LIST once and then WATCH; nothing polls.

Objects returned by ``public_view`` and diffs from ``Change.diff`` never carry Secret values.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError, object_ref
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_retry import retry_on_conflict

FIELD_MANAGER = "tekton-cd"
# Many writes (or access review questions) of one call go over this many connections at once;
# fewer than PARALLEL_FROM go one after the other over the one connection.
PARALLEL_CONNECTIONS = 4
PARALLEL_FROM = 3
HIDDEN = "<hidden>"
HIDDEN_CHANGED = "<hidden, changed>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Server-maintained metadata: never part of what we manage, only noise in a diff.
NOISE_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


@dataclass
class Change:
    """The outcome for one object: ``after`` is None once deleted, ``before`` None if it was new."""

    changed: bool
    before: dict | None
    after: dict | None

    def diff(self):
        """before/after for Ansible's --diff, without server noise or Secret values."""
        before, after = diff_view(self.before), diff_view(self.after)
        _mark_secret_changes(self.before, self.after, after)
        return {"before": before or {}, "after": after or {}}

    @property
    def result(self):
        """The resulting object as a module returns it (None once deleted)."""
        return public_view(self.after)


def public_view(obj):
    """The object as modules return it: no managedFields, Secret values hidden."""
    if obj is None:
        return None
    view = copy.deepcopy(obj)
    view.get("metadata", {}).pop("managedFields", None)
    if view.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(view.get(field), dict):
                view[field] = {key: HIDDEN for key in view[field]}
        annotations = view.get("metadata", {}).get("annotations") or {}
        annotations.pop(LAST_APPLIED, None)  # kubectl's copy would hold the values in clear
    return view


def diff_view(obj):
    """public_view without what the server maintains (resourceVersion, uid, status, ...)."""
    view = public_view(obj)
    if view is None:
        return None
    metadata = view.get("metadata", {})
    for key in NOISE_METADATA:
        metadata.pop(key, None)
    (metadata.get("annotations") or {}).pop(LAST_APPLIED, None)
    if metadata.get("annotations") == {}:
        metadata.pop("annotations")
    view.pop("status", None)
    return view


def _mark_secret_changes(before, after, after_view):
    if not after_view or after_view.get("kind") != "Secret":
        return
    for field in ("data", "stringData"):
        old, new = (before or {}).get(field) or {}, (after or {}).get(field) or {}
        for key in after_view.get(field) or {}:
            if old.get(key) != new.get(key):
                after_view[field][key] = HIDDEN_CHANGED


def strip_none(value):
    """Desired state without null values (null means 'not managed' to server-side apply)."""
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


def contains(live, desired):
    """Every desired value is in ``live``; list items may carry server-defaulted extra fields."""
    if isinstance(desired, dict):
        # The server drops empty maps and lists, so an empty desired value matches a missing one.
        return isinstance(live, dict) and all(
            contains(live[k], v) if k in live else v in ({}, []) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (isinstance(live, list) and len(live) == len(desired)
                and all(contains(a, b) for a, b in zip(live, desired, strict=True)))
    return live == desired


def managed_body(obj):
    """The part of an applied object that server-side apply tracks in managedFields."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in ("name", "namespace")}
    if metadata:
        body["metadata"] = metadata
    else:
        body.pop("metadata", None)
    return body


def fields_match(fields, value):
    """Whether a managedFields ``fieldsV1`` tree covers exactly the fields set in ``value``."""
    if isinstance(value, dict):
        if fields == {}:
            return True  # an empty map, or an atomic one (e.g. a RoleBinding's roleRef): owned whole
        names = {k[2:] for k in fields if k.startswith("f:")}
        if names != set(value) or any(k != "." and not k.startswith("f:") for k in fields):
            return False
        return all(fields_match(fields["f:" + k], v) for k, v in value.items())
    if isinstance(value, list):
        if fields == {}:
            return True  # an atomic list: owned as a whole
        entries = [k for k in fields if k != "."]
        if len(entries) != len(value):
            return False
        return all(_list_entry_matches(entry, fields[entry], value) for entry in entries)
    return fields == {}


def _list_entry_matches(entry, sub, items):
    kind, _colon, raw = entry.partition(":")
    try:
        key = json.loads(raw)
    except ValueError:
        return False
    if kind == "v":
        return key in items
    if kind != "k" or not isinstance(key, dict):
        return False
    for item in items:
        # The key may hold defaulted fields the desired item leaves out (a port's protocol: TCP).
        if isinstance(item, dict) and any(k in item for k in key) and all(
                item[k] == v for k, v in key.items() if k in item):
            owned = {k: v for k, v in sub.items() if k != "."}
            rest = {k: v for k, v in item.items() if k not in key or "f:" + k in owned}
            return fields_match(owned, rest) if owned or rest else True
    return False


def _as_stored(body, kind):
    """What the server stores for ``body``: a Secret's stringData lands base64-encoded in data."""
    if kind != "Secret" or not isinstance(body.get("stringData"), dict):
        return body
    import base64

    stored = {k: v for k, v in body.items() if k != "stringData"}
    encoded = {key: base64.b64encode(str(value).encode()).decode()
               for key, value in body["stringData"].items()}
    stored["data"] = {**(body.get("data") or {}), **encoded}
    return stored


def is_noop(desired, live, field_manager=FIELD_MANAGER):
    """Applying ``desired`` would change nothing, and we own exactly its fields already."""
    body = managed_body(desired)
    if live is None or not contains(live, _as_stored(body, desired.get("kind"))):
        return False
    ours = [
        entry for entry in (live.get("metadata") or {}).get("managedFields") or []
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply"
    ]
    if not body:
        # An apply that sets no field leaves the API server no managedFields entry to keep for us, so
        # "we own exactly nothing" shows as no entry (or an empty one).
        return all(not entry.get("fieldsV1") for entry in ours)
    if len(ours) != 1 or ours[0].get("apiVersion") != desired.get("apiVersion"):
        return False
    return fields_match(ours[0].get("fieldsV1") or {}, body)


class LiveObjects(dict):
    """Live objects by (apiVersion, kind, name, namespace), as KubeService.read_all found them;
    ``of(obj)`` is the live counterpart of a desired object, or None."""

    def __init__(self, key_of):
        super().__init__()
        self._key_of = key_of

    def of(self, obj):
        return self.get(self._key_of(obj))


def _same_apart_from_bookkeeping(before, after):
    def comparable(obj):
        view = copy.deepcopy(obj)
        metadata = view.get("metadata", {})
        for key in ("resourceVersion", "generation"):
            metadata.pop(key, None)
        for entry in metadata.get("managedFields") or []:
            entry.pop("time", None)
        return view

    return comparable(before) == comparable(after)


class KubeService:
    def __init__(self, client, *, check_mode=False, field_manager=FIELD_MANAGER):
        self.client = client
        self.check_mode = check_mode
        self.field_manager = field_manager
        # Check mode only: namespaces found missing by require_namespaces, whose objects apply predicts.
        self.absent_namespaces = set()
        # Kinds whose cluster-wide LIST was Forbidden: read_all lists them per namespace from then on.
        self._forbidden_cluster_wide = set()

    def with_field_manager(self, field_manager):
        """A KubeService on the same connection that writes under another field manager."""
        return KubeService(self.client, check_mode=self.check_mode, field_manager=field_manager)

    def _on(self, client):
        """This service on another connection to the same server, sharing what it has learnt."""
        twin = KubeService(client, check_mode=self.check_mode, field_manager=self.field_manager)
        twin.absent_namespaces = self.absent_namespaces
        twin._forbidden_cluster_wide = self._forbidden_cluster_wide
        return twin

    def map_concurrently(self, work, items):
        """``[work(service, item) for item in items]``, in order, where ``service`` is this service or
        a twin of it on a connection of its own. From PARALLEL_FROM items on they are spread over
        PARALLEL_CONNECTIONS connections: an API server answers them in parallel, so many writes or
        questions take a fraction of the time one round trip after another takes. Every item is
        worked on; the error of the first that failed (in order) is raised then."""
        items = list(items)
        if len(items) < PARALLEL_FROM:
            return [work(self, item) for item in items]
        import queue
        import threading
        from concurrent.futures import ThreadPoolExecutor

        free = queue.SimpleQueue()
        for client in self.client.connections(PARALLEL_CONNECTIONS):
            free.put(self if client is self.client else self._on(client))
        mine = threading.local()  # a connection is not thread-safe: each thread keeps its own

        def run(item):
            if not hasattr(mine, "service"):
                mine.service = free.get_nowait()
            return work(mine.service, item)

        with ThreadPoolExecutor(max_workers=PARALLEL_CONNECTIONS) as pool:
            futures = [pool.submit(run, item) for item in items]
        return [future.result() for future in futures]

    def resource(self, api_version, kind):
        return self.client.resource(api_version, kind)

    def resource_named(self, group, plural):
        """ApiResource for an API group and plural resource name (as RBAC names it), or None."""
        return self.client.resource_named(group, plural)

    def _call(self, method, api_version, kind, *, name=None, namespace=None, subresource=None,
              action, query=None, body=None, content_type=None, missing_ok=False, collection=False):
        resource = self.resource(api_version, kind)
        if resource.namespaced and not namespace and not (collection and method == "GET"):
            raise KubeError(f"{kind} is namespaced: give the namespace of {object_ref(kind, name)}.")
        path = resource.path(None if collection else name, namespace, subresource)
        target = object_ref(kind, name, namespace if resource.namespaced else None)
        return self.client.request_json(
            method, path, action=action, target=target,
            query=query, body=body, content_type=content_type, missing_ok=missing_ok,
            api_version=api_version, kind=kind,
        )

    def _dry_run(self, dry_run=None):
        return [("dryRun", "All")] if (self.check_mode if dry_run is None else dry_run) else []

    # -- reads ---------------------------------------------------------------------------------

    def get(self, api_version, kind, name, namespace=None):
        """The live object, or None if it does not exist."""
        return self._call("GET", api_version, kind, name=name, namespace=namespace, action="read",
                          missing_ok=True)

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        """Objects of a kind (in a namespace, or cluster-wide); each item gets apiVersion/kind back."""
        return self._list(api_version, kind, namespace, label_selector, field_selector)["items"]

    def _list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        query = [("labelSelector", label_selector)] if label_selector else []
        if field_selector:
            query.append(("fieldSelector", field_selector))
        answer = self._call("GET", api_version, kind, namespace=namespace, action="list", query=query,
                            collection=True)
        items = answer.get("items") or []
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return {"items": items, "resourceVersion": (answer.get("metadata") or {}).get("resourceVersion")}

    # -- writes --------------------------------------------------------------------------------

    def apply(self, desired, *, force_conflicts=False, live=None, live_known=False):
        """Server-side apply one object; ``live``/``live_known`` skip the read when the caller has it."""
        desired = strip_none(desired)
        api_version, kind, name, namespace = _identity(desired)
        if not live_known and namespace not in self.absent_namespaces:
            live = self.get(api_version, kind, name, namespace)
        settled = self._without_request(desired, live)
        if settled is not None:
            return settled
        query = [("fieldManager", self.field_manager), *self._dry_run()]
        if force_conflicts:
            query.append(("force", "true"))
        after = self._call("PATCH", api_version, kind, name=name, namespace=namespace, action="apply",
                           query=query, body=desired, content_type="application/apply-patch+yaml")
        if live is None:
            changed = True
        elif self.check_mode:
            changed = not _same_apart_from_bookkeeping(live, after)
        else:
            changed = (after.get("metadata") or {}).get("resourceVersion") != live["metadata"].get(
                "resourceVersion")
        return Change(changed, live, after)

    def _without_request(self, desired, live):
        """The Change of applying ``desired`` over ``live`` when it needs no request, else None."""
        if desired["metadata"].get("namespace") in self.absent_namespaces:
            return Change(True, None, desired)  # a dry run would be refused (404): predict it
        if is_noop(desired, live, self.field_manager):
            return Change(False, live, live)
        return None

    def delete_all(self, objects, live):
        """Delete ``objects`` (named ones will do) whose live state ``live`` (read_all) holds; one
        Change per object, in order, unchanged for those already absent."""
        return [self.delete(*_identity(obj), live=live.of(obj), live_known=True) for obj in objects]

    def read_all(self, objects, *, label_selector=None):
        """The live state of ``objects`` (dicts with apiVersion, kind and metadata.name, e.g. the
        objects about to be applied) as LiveObjects, with a number of requests that does not grow
        with the number of objects or namespaces once they exist and carry their labels.

        A kind with one object: one GET. A kind with several: one LIST narrowed by a label selector
        (``label_selector``, else the labels every labelled object of that kind carries) in their
        namespace, or cluster-wide when they span several (one LIST per namespace where a
        cluster-wide one is Forbidden, as for a namespace-scoped kubeconfig). An object that LIST
        misses (absent, or not labelled so yet) is read alone: a GET, or one unfiltered LIST where a
        namespace holds several such; so a missing label never passes for a missing object. Without
        a selector: a GET where a namespace has one name, else one unfiltered LIST of it."""
        kinds = {}
        for obj in objects:
            api_version, kind, name, namespace = self._key(obj)
            kinds.setdefault((api_version, kind), []).append((obj, name, namespace))
        live = LiveObjects(self._key)
        for (api_version, kind), entries in kinds.items():
            wanted = {(name, namespace) for _obj, name, namespace in entries}
            selector = label_selector or common_selector([obj for obj, _name, _namespace in entries])
            if len(wanted) > 1 and selector:
                namespaces = {namespace for _name, namespace in wanted}
                for item in self._list_labelled(api_version, kind, namespaces, selector):
                    found = (item["metadata"]["name"], item["metadata"].get("namespace"))
                    if found[1] in namespaces:
                        live[(api_version, kind, *found)] = item
                wanted = {key for key in wanted if (api_version, kind, *key) not in live}
            self._read_each(live, api_version, kind, wanted)
        return live

    def _list_labelled(self, api_version, kind, namespaces, selector):
        """Objects of a kind in ``namespaces`` (``{None}`` for a cluster-scoped kind) with labels
        ``selector``: one LIST, cluster-wide for several namespaces unless that is Forbidden."""
        if len(namespaces) == 1:
            return self.list(api_version, kind, next(iter(namespaces)), label_selector=selector)
        if (api_version, kind) not in self._forbidden_cluster_wide:
            try:
                return self.list(api_version, kind, None, label_selector=selector)
            except KubeError as exc:
                if exc.status != 403:
                    raise
                # Allowed in each namespace but not across them (a namespace-scoped kubeconfig).
                self._forbidden_cluster_wide.add((api_version, kind))
        return [item for namespace in sorted(namespaces)
                for item in self.list(api_version, kind, namespace, label_selector=selector)]

    def _read_each(self, live, api_version, kind, wanted):
        """Into ``live``: the objects ``wanted`` ((name, namespace) pairs) of a kind, a GET where a
        namespace has one name, else one LIST of that namespace."""
        by_namespace = {}
        for name, namespace in wanted:
            by_namespace.setdefault(namespace, set()).add(name)
        for namespace, names in sorted(by_namespace.items(), key=lambda entry: entry[0] or ""):
            if len(names) == 1:
                found = self.get(api_version, kind, next(iter(names)), namespace)
                items = [found] if found is not None else []
            else:
                items = self.list(api_version, kind, namespace)
            for item in items:
                live[(api_version, kind, item["metadata"]["name"], namespace)] = item

    def apply_all(self, objects, *, force_conflicts=False, label_selector=None, live=None):
        """Apply several objects; the live state is read with read_all unless ``live`` (what
        read_all returned for them) is given. Returns one Change per object, in order. Only what
        differs is sent, kind after kind, each kind's writes at once (map_concurrently)."""
        objects = [strip_none(obj) for obj in objects]
        if live is None:
            live = self.read_all(objects, label_selector=label_selector)
        changes = [None] * len(objects)
        writes = {}
        for index, obj in enumerate(objects):
            changes[index] = self._without_request(obj, live.of(obj))
            if changes[index] is None:
                writes.setdefault((obj["apiVersion"], obj["kind"]), []).append(index)

        def write(service, index):
            return service.apply(objects[index], force_conflicts=force_conflicts,
                                 live=live.of(objects[index]), live_known=True)

        # Kind after kind, in the order they first come (a Role before the RoleBindings of it).
        for indexes in writes.values():
            for index, change in zip(indexes, self.map_concurrently(write, indexes), strict=True):
                changes[index] = change
        return changes

    def missing_namespaces(self, objects, live):
        """The namespaces ``objects`` go into that do not exist, in sorted order. Only those holding
        none of the ``live`` objects are asked about (one GET each), since a LIST in a namespace that
        does not exist is simply empty."""
        occupied = {key[3] for key in live}  # (apiVersion, kind, name, namespace)
        candidates = {self._key(obj)[3] for obj in objects} - occupied - {None}
        return [namespace for namespace in sorted(candidates)
                if self.get("v1", "Namespace", namespace) is None]

    def require_namespaces(self, objects, live, *, fix="create it first (module k8s_namespace)",
                           failure=None):
        """The rule every module follows for a namespace that ``objects`` go into and that does not
        exist, checked before any write. A real run fails: KubeError 'Cannot create <the first
        object bound there>: the namespace "<name>" does not exist; <fix>.' (or ``failure(namespace)``).
        Check mode warns instead (namespace_missing_warning), since an earlier task of the same run
        may only have pretended to create it; ``apply`` then shows the objects bound there as they
        would be sent. Returns the warnings, one per missing namespace."""
        missing = self.missing_namespaces(objects, live)
        if missing and not self.check_mode:
            namespace = missing[0]
            first = next(obj for obj in objects if obj["metadata"].get("namespace") == namespace)
            target = object_ref(first["kind"], first["metadata"]["name"], namespace)
            raise KubeError(failure(namespace) if failure else
                            f'Cannot create {target}: the namespace "{namespace}" does not exist; {fix}.',
                            status=404, reason="NotFound")
        self.absent_namespaces.update(missing)
        return [namespace_missing_warning(namespace) for namespace in missing]

    def require_existing(self, objects, live, *, failure, warning):
        """The same rule for objects a task edits but does not create (a service account to link a
        Secret to): a missing one fails a real run with KubeError ``failure(target)``, and is a
        warning ``warning(target)`` in check mode (target: how messages name the object)."""
        warnings = []
        for obj in objects:
            if live.of(obj) is None:
                target = object_ref(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
                if not self.check_mode:
                    raise KubeError(failure(target), status=404, reason="NotFound")
                warnings.append(warning(target))
        return warnings

    def _key(self, obj):
        """(apiVersion, kind, name, namespace) of an object, namespace None for a cluster-scoped kind."""
        api_version, kind, name, namespace = _identity(obj)
        return api_version, kind, name, namespace if self.resource(api_version, kind).namespaced else None

    def create(self, body, *, namespace=None, subresource_of=None, dry_run=None):
        """POST an object, or a subresource such as a TokenRequest; returns the API's answer.

        ``subresource_of=(api_version, kind, name, subresource)`` posts to that object's
        subresource (e.g. ("v1", "ServiceAccount", "builder", "token")). ``dry_run`` defaults to
        check mode; reviews (SubjectAccessReview) write nothing and may pass dry_run=False.
        """
        query = [("fieldManager", self.field_manager), *self._dry_run(dry_run)]
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        if subresource_of:
            api_version, kind, name, subresource = subresource_of
            return self._call("POST", api_version, kind, name=name, namespace=namespace,
                              subresource=subresource, action=f"create {subresource} for", query=query,
                              body=body)
        api_version, kind = body["apiVersion"], body["kind"]
        name = (body.get("metadata") or {}).get("name")
        return self._call("POST", api_version, kind, name=name, namespace=namespace, action="create",
                          query=query, body=body, collection=True)

    def request_token(self, name, namespace, *, lifetime, audiences=None):
        """(token, expirationTimestamp) of a bound token for a service account (TokenRequest). Sent
        in check mode too: it stores nothing (the caller decides whether to ask)."""
        spec = {"expirationSeconds": lifetime, **({"audiences": list(audiences)} if audiences else {})}
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        answer = self.create(body, namespace=namespace, dry_run=False,
                             subresource_of=("v1", "ServiceAccount", name, "token"))
        status = answer.get("status") or {}
        if not status.get("token"):
            account = object_ref("ServiceAccount", name, namespace)
            raise KubeError(f"The API server issued no token for {account} (its TokenRequest answer has "
                            "no status.token); check the API server's service "
                            "account token settings (--service-account-issuer and signing key).")
        return status["token"], status.get("expirationTimestamp")

    def update(self, api_version, kind, name, namespace, mutate, *, live=None):
        """Read (or take ``live``, what the caller read already), let ``mutate(copy)`` edit it (in
        place, or return a new dict), PUT it back if it differs; a stale write (409) re-reads and
        tries again. The no-op check before an update: nothing is sent when ``mutate`` changes nothing.

        For fields server-side apply cannot own well (e.g. adding to a list others also edit).
        Returns a Change; a missing object raises KubeError.
        """
        known = [live] if live is not None else []

        def attempt():
            live = known.pop() if known else self.get(api_version, kind, name, namespace)
            if live is None:
                raise KubeError(f"Could not update {object_ref(kind, name, namespace)}: it does not exist; "
                                "create it first.", status=404, reason="NotFound")
            wanted = copy.deepcopy(live)
            replaced = mutate(wanted)  # edits in place, or returns a replacement object
            if isinstance(replaced, dict):
                wanted = replaced
            if wanted == live:
                return Change(False, live, live)
            query = [("fieldManager", self.field_manager), *self._dry_run()]
            after = self._call("PUT", api_version, kind, name=name, namespace=namespace, action="update",
                               query=query, body=wanted)
            return Change(True, live, after)

        return retry_on_conflict(attempt)

    def delete(self, api_version, kind, name, namespace=None, *, wait=False, timeout=120,
               propagation_policy="Background", live=None, live_known=False):
        """Delete if present (changed=False if absent); ``wait`` watches until it is gone;
        ``live``/``live_known`` skip the read when the caller has it (read_all)."""
        if not live_known:
            live = self.get(api_version, kind, name, namespace)
        if live is None:
            return Change(False, None, None)
        query = [("propagationPolicy", propagation_policy), *self._dry_run()]
        answer = self._call("DELETE", api_version, kind, name=name, namespace=namespace, action="delete",
                            query=query, missing_ok=True)
        if answer is None:  # someone else deleted it between our read and our delete
            return Change(False, live, None)
        if wait and not self.check_mode:
            self.wait_gone(api_version, kind, name, namespace, timeout=timeout,
                           uid=live["metadata"].get("uid"))
        return Change(True, live, None)

    def log(self, pod, namespace, *, container=None, tail_lines=None):
        """The log of a pod's container as text (``tail_lines``: only the last lines)."""
        resource = self.resource("v1", "Pod")
        query = [(key, str(value)) for key, value in (("container", container), ("tailLines", tail_lines))
                 if value is not None]
        text = self.client.request_text("GET", resource.path(pod, namespace, "log"), query=query,
                                        action="read the log of", target=object_ref("Pod", pod, namespace))
        lines = text.splitlines()
        return "\n".join(lines[-tail_lines:] if tail_lines else lines)

    # -- waits ---------------------------------------------------------------------------------

    def wait_for(self, api_version, kind, name, namespace=None, *, condition, timeout, description=None):
        """Watch the object until the JMESPath ``condition`` is true of it; returns the object."""
        import jmespath

        expression = jmespath.compile(condition)
        return self._watch_until(
            api_version, kind, name, namespace, timeout,
            lambda obj: obj is not None and bool(expression.search(obj)),
            description or f"match {condition!r}",
        )

    def wait_gone(self, api_version, kind, name, namespace=None, *, timeout, uid=None):
        """Watch until the object (the one with ``uid``, if given) no longer exists."""
        self._watch_until(
            api_version, kind, name, namespace, timeout,
            lambda obj: obj is None or (uid is not None and obj["metadata"].get("uid") != uid),
            "be deleted",
        )

    def follow(self, selections, *, timeout):
        """Every change to several selections of objects, as they happen, until ``timeout`` s pass.

        ``selections`` maps a key of the caller's to a Selection (kind, namespace, label and field
        selectors). Yields ``(key, event_type, obj)``: first ``LISTED`` for each object one LIST of
        each selection finds, then ``ADDED`` / ``MODIFIED`` / ``DELETED`` from a WATCH of each
        (from the LIST's resourceVersion, so nothing is missed or seen twice); the caller stops
        when its condition holds (leaving the loop closes the watches). A watch the server ends is
        resumed from the last version seen; one that expired (410) is listed again (``LISTED``
        again). Nothing polls: the requests are one LIST and one WATCH per selection.

        The watches are read on threads of their own (each on its own connection) and merged; the
        LISTs go over this service's connection, from the caller's thread only.
        """
        import queue
        import threading

        deadline = time.monotonic() + timeout
        events = queue.Queue()
        stopping = threading.Event()
        streams, threads = {}, []

        def opened(key, stream):
            streams[key] = stream
            if stopping.is_set():  # the caller left while this watch was being opened
                stream.interrupt()

        def watch(key, selection, version):
            resource = self.resource(selection.api_version, selection.kind)
            path = resource.path(None, selection.namespace if resource.namespaced else None)
            target = object_ref(selection.kind, None, selection.namespace)
            while not stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                query = [*selection.query(), ("allowWatchBookmarks", "true"), ("resourceVersion", version)]
                try:
                    for event in self.client.watch_events(
                            path, query=query, timeout=remaining, action="watch", target=target,
                            on_open=lambda stream: opened(key, stream)):
                        if event.get("type") == "ERROR":
                            events.put((key, "RELIST", None))  # typically 410: the version expired
                            return
                        version = ((event.get("object") or {}).get("metadata") or {}).get(
                            "resourceVersion") or version
                        if event.get("type") != "BOOKMARK":
                            events.put((key, event.get("type"), event.get("object")))
                except KubeError as exc:
                    if not stopping.is_set():
                        events.put((key, "FAILED", exc))
                    return

        def start(key):
            selection = selections[key]
            listed = self._list(selection.api_version, selection.kind, selection.namespace,
                                selection.label_selector, selection.field_selector)
            thread = threading.Thread(target=watch, args=(key, selection, listed["resourceVersion"]),
                                      daemon=True, name=f"watch {key}")
            threads.append(thread)
            thread.start()
            return [(key, "LISTED", item) for item in listed["items"]]

        try:
            for key in selections:
                yield from start(key)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                try:
                    key, event_type, obj = events.get(timeout=remaining)
                except queue.Empty:
                    return
                if event_type == "FAILED":
                    raise obj
                if event_type == "RELIST":
                    yield from start(key)
                    continue
                yield key, event_type, obj
        finally:
            stopping.set()
            for stream in list(streams.values()):
                stream.interrupt()
            for thread in threads:
                thread.join(timeout=5)

    def _watch_until(self, api_version, kind, name, namespace, timeout, done, description):
        resource = self.resource(api_version, kind)
        namespace = namespace if resource.namespaced else None
        target = object_ref(kind, name, namespace)
        deadline = time.monotonic() + timeout
        current = None
        while True:
            listed = self._list(api_version, kind, namespace, field_selector=f"metadata.name={name}")
            current = listed["items"][0] if listed["items"] else None
            if done(current):
                return current
            version = listed["resourceVersion"]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            query = [("fieldSelector", f"metadata.name={name}"), ("allowWatchBookmarks", "true")]
            if version:
                query.append(("resourceVersion", version))
            for event in self.client.watch_events(resource.path(None, namespace), query=query,
                                                  timeout=remaining, action="watch", target=target):
                kind_of_event, obj = event.get("type"), event.get("object") or {}
                if kind_of_event == "ERROR":
                    break  # typically 410 Gone: the version expired; list again and re-watch
                if kind_of_event == "BOOKMARK":
                    continue
                current = None if kind_of_event == "DELETED" else obj
                if done(current):
                    return current
                if time.monotonic() >= deadline:
                    break
            if time.monotonic() >= deadline:
                break
        state = "absent" if current is None else _summary(current)
        raise KubeError(
            f"Timed out after {timeout:g} s waiting for {target} to {description} (it is {state}); "
            "raise the wait timeout, or look at what holds it up (events, finalizers, controllers).",
            reason="Timeout",
        )


def _summary(obj):
    metadata = obj.get("metadata") or {}
    parts = []
    phase = (obj.get("status") or {}).get("phase")
    if phase:
        parts.append(f"phase {phase}")
    if metadata.get("deletionTimestamp"):
        parts.append("being deleted")
    if metadata.get("finalizers") or (obj.get("spec") or {}).get("finalizers"):
        pending = (metadata.get("finalizers") or []) + ((obj.get("spec") or {}).get("finalizers") or [])
        parts.append("finalizers " + ", ".join(pending))
    return "present, " + "; ".join(parts) if parts else "present"


@dataclass(frozen=True)
class Selection:
    """Objects of one kind that KubeService.follow watches: a namespace (None: all, or a
    cluster-scoped kind), and optional label and field selectors."""

    api_version: str
    kind: str
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None

    def query(self):
        return [(key, value) for key, value in (("labelSelector", self.label_selector),
                                                ("fieldSelector", self.field_selector)) if value]


def namespace_missing_warning(namespace):
    """The one check-mode sentence for a namespace that does not exist (yet)."""
    return (f'Namespace "{namespace}" does not exist (yet): what goes into it is shown as it would be '
            "sent; a real run needs it created first (module k8s_namespace).")


def common_selector(objects):
    """The label selector (``key=value,...``, sorted) for the labels that every one of ``objects``
    that carries labels has, with the same value; None when there is none, or fewer than two objects
    carry labels (named references carry none, and are then read alone)."""
    labelled = [(obj.get("metadata") or {}).get("labels") for obj in objects]
    labelled = [labels for labels in labelled if labels]
    if len(labelled) < 2:
        return None
    shared = set(labelled[0].items()).intersection(*(labels.items() for labels in labelled[1:]))
    # An empty value would need the selector "key=", which no conformance test pins: left out.
    return ",".join(f"{key}={value}" for key, value in sorted(shared)
                    if isinstance(value, str) and value) or None


def named(api_version, kind, name, namespace=None, *, labels=None):
    """An object that only names one: what read_all reads or a check refers to, when there is
    nothing of it to apply (a ClusterRole to bind, a Secret whose content is not decided yet);
    ``labels``, those it is expected to carry, let read_all find it with a label-selected LIST."""
    metadata = {"name": name, **({"namespace": namespace} if namespace is not None else {}),
                **({"labels": dict(labels)} if labels else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def _identity(obj):
    metadata = obj.get("metadata") or {}
    required = (("apiVersion", obj.get("apiVersion")), ("kind", obj.get("kind")),
                ("metadata.name", metadata.get("name")))
    missing = [field for field, value in required if not value]
    if missing:
        raise KubeError(
            f"An object to apply lacks {', '.join(missing)}; give apiVersion, kind and metadata.name."
        )
    return obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")


def linking(fields, secret):
    """A mutate for KubeService.update that adds a reference to Secret ``secret`` to the service
    account lists ``fields`` (imagePullSecrets, secrets), keeping the entries others added."""
    def mutate(account):
        for field in fields:
            entries = account.get(field) or []
            if not any(entry.get("name") == secret for entry in entries):
                account[field] = [*entries, {"name": secret}]
    return mutate


def unlinking(fields, secret):
    """The mutate that takes the references ``linking`` adds out again."""
    def mutate(account):
        for field in fields:
            entries = account.get(field) or []
            kept = [entry for entry in entries if entry.get("name") != secret]
            if len(kept) != len(entries):
                account[field] = kept
    return mutate
