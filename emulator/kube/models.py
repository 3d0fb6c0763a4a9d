"""The emulated cluster's state and the API's rules, without HTTP.

`ClusterState` is a facade over the parts of a control plane, each in its own module:

| part | module | holds |
| --- | --- | --- |
| `store` | `storage.py` | objects, resourceVersions, the watch event log, reads |
| `token_authority` | `tokens.py` | authentication: admin, TokenRequest and static tokens |
| `access` | `authorization.py` | escalation checks, the review APIs, 403 wording (RBAC in `rbac.py`) |
| `admission` | `admission.py` | body checks, validation, defaulting, admission plugins |
| `writes` | `writes.py` | create / update / patch / apply / delete, dry-run, managedFields |
| `builtin_controllers` | `controllers/` | namespaces, garbage collection, CRDs, default accounts, root CA |

Callers (the HTTP side, the workload simulator, added controllers, tests) use the facade's methods;
it only wires the parts together and bootstraps a cluster (RBAC defaults, system namespaces, the
`kubernetes` Service).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from emulator.kube import exceptions
from emulator.kube.admission import CRD_CLEANUP_FINALIZER, KUBERNETES_SERVICE_IP, Admission
from emulator.kube.authorization import AccessControl, denial, denial_message
from emulator.kube.context import ADMIN, RequestContext, system
from emulator.kube.controllers import crds as crd_controller
from emulator.kube.controllers.crds import CRDController
from emulator.kube.controllers.garbage_collector import GarbageCollector
from emulator.kube.controllers.namespaces import NamespaceLifecycle
from emulator.kube.controllers.pvc_protection import PVCProtection
from emulator.kube.controllers.root_ca import KUBE_ROOT_CA_DESCRIPTION, RootCAPublisher
from emulator.kube.controllers.service_accounts import DefaultServiceAccounts
from emulator.kube.pod_logs import PodLogs
from emulator.kube.rbac import default_objects
from emulator.kube.resources import ResourceRegistry, ResourceType
from emulator.kube.storage import Clock, Store, WatchEvent
from emulator.kube.tokens import API_AUDIENCES, IssuedToken, TokenAuthority
from emulator.kube.writes import PATCH_TYPES, Writes

__all__ = [
    "ADMIN",
    "API_AUDIENCES",
    "CRD_CLEANUP_FINALIZER",
    "KUBE_ROOT_CA_DESCRIPTION",
    "ClusterState",
    "Clock",
    "IssuedToken",
    "RequestContext",
    "WatchEvent",
    "denial",
    "denial_message",
]

# Each pass may enable more work (a namespace emptied by one pass is removed by the next).
MAX_RECONCILE_PASSES = 20


class ClusterState:
    PATCH_TYPES = PATCH_TYPES

    def __init__(self, admin_token: str | None = None, ca_pem: str = "", server_url: str = ""):
        self.clock = Clock()
        self.registry = ResourceRegistry()
        self.ca_pem = ca_pem
        self.server_url = server_url
        self.store = Store(self.registry)
        self.token_authority = TokenAuthority(
            self.store, self.clock, admin_token or secrets.token_urlsafe(32)
        )
        self.access = AccessControl(self.store, self.token_authority, self.clock)
        self.admission = Admission(self.store)
        self.namespace_lifecycle = NamespaceLifecycle()
        self.writes = Writes(
            self.store,
            self.admission,
            self.access,
            self.clock,
            after_write=self._after_write,
            namespace_terminating=self.namespace_lifecycle.terminating,
        )
        self._pod_logs = PodLogs(self.store)
        # The order matters: accounts and the root CA for new namespaces, CRDs, then terminating
        # namespaces, then what their deletions leave to the garbage collector and pvc-protection.
        self.builtin_controllers: list[Callable[[ClusterState], bool]] = [
            DefaultServiceAccounts(),
            RootCAPublisher(),
            CRDController(),
            self.namespace_lifecycle,
            GarbageCollector(),
            PVCProtection(),
        ]
        # Added controllers (the workload simulator, Tekton) run after the built-in ones.
        self.controllers: list[Callable[[ClusterState], bool]] = []
        # What reconcile has seen: events up to this resourceVersion; the controllers that said
        # work was pending; whether time passed (mark_dirty), which every controller must see.
        self._reconciled_version = 0
        self._pending_controllers: set[int] = set()
        self._forced = True
        self._bootstrap()

    # ------------------------------------------------------------------ bootstrap

    def _bootstrap(self) -> None:
        defaults = default_objects()
        bootstrap = system("kube-apiserver")
        for role in defaults["clusterroles"]:
            self.create(
                self.rtype("rbac.authorization.k8s.io", "v1", "clusterroles"),
                "",
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", **role},
                bootstrap,
            )
        for binding in defaults["clusterrolebindings"]:
            self.create(
                self.rtype("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
                "",
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", **binding},
                bootstrap,
            )
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(
                self.rtype("", "v1", "namespaces"),
                "",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                bootstrap,
            )
        self.create(
            self.rtype("", "v1", "services"),
            "default",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                    "clusterIP": KUBERNETES_SERVICE_IP,
                },
            },
            bootstrap,
        )
        self.reconcile()

    def rtype(self, group: str, version: str, plural: str) -> ResourceType:
        found = self.registry.get(group, version, plural)
        if found is None:
            raise exceptions.resource_not_found()
        return found

    # ------------------------------------------------------------------ state shared with callers

    @property
    def admin_token(self) -> str:
        return self.token_authority.admin_token

    @property
    def tokens(self) -> dict[str, IssuedToken]:
        return self.token_authority.tokens

    @property
    def authorizer(self):
        return self.access.authorizer

    @property
    def events(self) -> list[WatchEvent]:
        return self.store.events

    @property
    def listeners(self) -> list[Callable[[WatchEvent], None]]:
        return self.store.listeners

    @property
    def current_resource_version(self) -> int:
        return self.store.current_resource_version

    @property
    def pod_logs(self) -> dict[tuple[str, str, str], str]:
        return self._pod_logs.texts

    @property
    def namespace_finalize_delay(self) -> float:
        """The namespace controller's pace: a deleted namespace stays Terminating at least this long."""
        return self.namespace_lifecycle.finalize_delay

    @namespace_finalize_delay.setter
    def namespace_finalize_delay(self, seconds: float) -> None:
        self.namespace_lifecycle.finalize_delay = seconds

    def mark_dirty(self) -> None:
        """Make the next `reconcile` run every controller (time passed, a control changed)."""
        self._forced = True
        self.store.dirty = True

    # Kept for callers written against the single-class state.
    @property
    def _dirty(self) -> bool:
        return self.store.dirty

    @_dirty.setter
    def _dirty(self, value: bool) -> None:
        self._forced = self._forced or value
        self.store.dirty = value

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], dict]:
        return self.store.bucket(rtype)

    # ------------------------------------------------------------------ reads

    def find(self, rtype: ResourceType, namespace: str, name: str) -> dict | None:
        return self.store.find(rtype, namespace, name)

    def present(self, obj: dict, rtype: ResourceType) -> dict:
        return self.store.present(obj, rtype)

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict:
        return self.store.get(rtype, namespace, name)

    def list(
        self,
        rtype: ResourceType,
        namespace: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str = "",
    ) -> dict:
        return self.store.list(rtype, namespace, label_selector, field_selector, limit, continue_token)

    def events_since(self, rtype: ResourceType, namespace: str, resource_version: int) -> list[WatchEvent]:
        return self.store.events_since(rtype, namespace, resource_version)

    def pod_log(self, namespace: str, name: str, container: str | None) -> str:
        return self._pod_logs.read(namespace, name, container)

    # ------------------------------------------------------------------ writes

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: dict,
        ctx: RequestContext,
        via_apply: dict | None = None,
    ) -> dict:
        return self.writes.create(rtype, namespace, body, ctx, via_apply)

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: dict,
        ctx: RequestContext,
        subresource: str = "",
    ) -> tuple[dict, bool]:
        return self.writes.update(rtype, namespace, name, body, ctx, subresource)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        ctx: RequestContext,
        force: bool = False,
        subresource: str = "",
    ) -> tuple[dict, bool]:
        return self.writes.patch(rtype, namespace, name, content_type, raw, ctx, force, subresource)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        ctx: RequestContext,
        propagation: str | None = None,
        preconditions: dict | None = None,
    ) -> dict:
        return self.writes.delete(rtype, namespace, name, ctx, propagation, preconditions)

    def delete_collection(
        self,
        rtype: ResourceType,
        namespace: str,
        ctx: RequestContext,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation: str | None = None,
    ) -> dict:
        return self.writes.delete_collection(
            rtype, namespace, ctx, label_selector, field_selector, propagation
        )

    # ------------------------------------------------------------------ tokens and reviews

    def request_token(self, namespace: str, name: str, body: dict, ctx: RequestContext) -> dict:
        return self.token_authority.request_token(namespace, name, body, ctx)

    def authenticate(self, token: str | None):
        return self.token_authority.authenticate(token)

    def add_static_token(self, token: str, user: str, groups: list[str] | None = None) -> None:
        self.token_authority.add_static_token(token, user, groups)

    def review(self, rtype: ResourceType, namespace: str, body: dict, ctx: RequestContext) -> dict:
        return self.access.review(rtype, namespace, body, ctx)

    # ------------------------------------------------------------------ controllers

    def _after_write(self, rtype: ResourceType, obj: dict, old: dict | None) -> None:
        self.store.dirty = True
        if rtype.kind == "CustomResourceDefinition":
            crd_controller.serve(self.registry, obj)

    def reconcile(self) -> bool:
        """Run what the controllers would do now. Returns True when work is still pending later
        (e.g. a namespace whose finalization delay has not passed yet)."""
        for _ in range(MAX_RECONCILE_PASSES):
            if not self.store.dirty:
                break
            self.store.dirty = False
            forced, self._forced = self._forced, False
            events = self.store.events_after(self._reconciled_version)
            self._reconciled_version = self.store.current_resource_version
            for controller in self.builtin_controllers + list(self.controllers):
                if not (
                    forced
                    or events is None
                    or id(controller) in self._pending_controllers
                    or _concerned(controller, events)
                ):
                    continue  # as a real controller's informers, it only wakes for what it watches
                if controller(self):
                    self._pending_controllers.add(id(controller))
                else:
                    self._pending_controllers.discard(id(controller))
        return bool(self._pending_controllers) or self.store.dirty


def _concerned(controller, events) -> bool:
    """Whether any of `events` is one `controller` reacts to; one without `concerns` sees all."""
    concerns = getattr(controller, "concerns", None)
    if concerns is None:
        return bool(events)
    return any(concerns(event) for event in events)
