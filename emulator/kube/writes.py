"""The write path of the API (what the generic registry store is to a real server): create, update,
the four patch formats (server-side apply among them), delete with propagation and finalizers, and
deletecollection. Each write is checked by admission and authorization, records managedFields,
honours optimistic concurrency and dry-run, and is stored only when something changed."""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Callable

from emulator.kube import builtin_rules, exceptions, goyaml, openapi, patches, ssa
from emulator.kube.admission import Admission
from emulator.kube.authorization import AccessControl
from emulator.kube.context import RequestContext
from emulator.kube.exceptions import FieldError
from emulator.kube.resources import ResourceType
from emulator.kube.storage import Clock, Store, order_metadata, same
from emulator.kube.typed import object_node

GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
# Server-set metadata a create ignores in the body.
SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)
# Metadata an update cannot change: it keeps the stored values.
KEPT_ON_UPDATE = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "namespace",
    "name",
    "selfLink",
    "generateName",
)


def typed_node(rtype: ResourceType):
    return object_node(rtype.kind, rtype.schema, rtype.crd_name is not None)


class Writes:
    def __init__(
        self,
        store: Store,
        admission: Admission,
        access: AccessControl,
        clock: Clock,
        after_write: Callable[[ResourceType, dict, dict | None], None],
        namespace_terminating: Callable[[str], None],
    ):
        self.store = store
        self.admission = admission
        self.access = access
        self.clock = clock
        self._after_write = after_write  # controllers' hook: something was stored
        self._namespace_terminating = namespace_terminating

    # ------------------------------------------------------------------ create

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: dict,
        ctx: RequestContext,
        via_apply: dict | None = None,
    ) -> dict:
        """POST. `via_apply`, used by apply-creates, is the applied configuration."""
        if rtype.virtual:
            raise exceptions.method_not_allowed()
        self.admission.check_body_identity(rtype, namespace, body, None)
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name"):
            if metadata.get("generateName"):
                suffix = "".join(secrets.choice(GENERATE_NAME_ALPHABET) for _ in range(5))
                metadata["name"] = metadata["generateName"] + suffix
            else:
                raise exceptions.invalid(
                    rtype.kind,
                    rtype.group,
                    "",
                    [FieldError.required("metadata.name", "name or generateName is required")],
                )
        name = metadata["name"]
        if rtype.namespaced:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        for server_field in SERVER_FIELDS:
            metadata.pop(server_field, None)
        self.admission.check_namespace(rtype, namespace, name, creating=True)
        if self.store.find(rtype, namespace, name) is not None:
            raise exceptions.already_exists(rtype.plural, rtype.group, name)
        if rtype.status_subresource and rtype.crd_name is not None:
            obj.pop("status", None)
        node = typed_node(rtype)
        reset = (("f:status",),) if rtype.status_subresource else ()
        now = self.clock.stamp()
        if via_apply is None:
            if rtype.crd_name is None:
                builtin_rules.decode_defaults(obj)
            ssa.record_update(
                None,
                obj,
                ctx.manager,
                rtype.api_version,
                now,
                node,
                rtype.crd_name is not None,
                reset_prefixes=reset,
            )
        elif rtype.crd_name is None:
            builtin_rules.decode_defaults(obj)
        obj["metadata"]["uid"] = str(uuid.uuid4())
        self.admission.mutate_created(rtype, obj)
        metadata = obj["metadata"]
        metadata["creationTimestamp"] = now
        if rtype.tracks_generation or rtype.crd_name is not None:
            metadata["generation"] = 1
        obj = self.admission.validate(rtype, obj, None, ctx)
        self.access.check_escalation(rtype, obj, ctx)
        if rtype.kind == "Pod":
            self.admission.check_pod_service_account(obj, namespace)
        obj = order_metadata(obj)
        if ctx.dry_run:
            return self.store.present(obj, rtype)
        stored = self.store.put(rtype, obj, "ADDED")
        self._after_write(rtype, stored, None)
        return self.store.present(stored, rtype)

    # ------------------------------------------------------------------ update

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: dict,
        ctx: RequestContext,
        subresource: str = "",
    ) -> tuple[dict, bool]:
        """PUT. Returns (object, created)."""
        self.admission.check_body_identity(rtype, namespace, body, name)
        old = self.store.find(rtype, namespace, name)
        if old is None:
            raise exceptions.not_found(rtype.plural, rtype.group, name)
        wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise exceptions.stale_resource_version(rtype.plural, rtype.group, name)
        new = copy.deepcopy(body)
        if rtype.crd_name is None and not subresource:
            builtin_rules.decode_defaults(new)
        return self._write_update(rtype, old, new, ctx, subresource), False

    def _write_update(
        self,
        rtype: ResourceType,
        old: dict,
        new: dict,
        ctx: RequestContext,
        subresource: str,
        managed_by_apply: bool = False,
    ) -> dict:
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        metadata = new.setdefault("metadata", {})
        if subresource == "status":
            # Status writes change status only.
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if managed_by_apply:
                new["metadata"]["managedFields"] = metadata.get("managedFields", [])
            metadata = new["metadata"]
        elif rtype.status_subresource:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        for kept in KEPT_ON_UPDATE:
            if kept in old["metadata"]:
                metadata[kept] = old["metadata"][kept]
            else:
                metadata.pop(kept, None)
        if not metadata.get("managedFields") and metadata.get("managedFields") != []:
            metadata.pop("managedFields", None)
        node = typed_node(rtype)
        if not managed_by_apply:
            if metadata.get("managedFields") is None and old["metadata"].get("managedFields"):
                metadata["managedFields"] = copy.deepcopy(old["metadata"]["managedFields"])
            if subresource == "status":
                reset = tuple(("f:" + k,) for k in new if k not in ("status", "apiVersion", "kind"))
            else:
                reset = (("f:status",),) if rtype.status_subresource else ()
            ssa.record_update(
                old,
                new,
                ctx.manager,
                rtype.api_version,
                self.clock.stamp(),
                node,
                rtype.crd_name is not None,
                subresource=subresource,
                reset_prefixes=reset,
            )
        if rtype.crd_name is None:
            builtin_rules.storage_form(new)
        generation_tracked = rtype.tracks_generation or rtype.crd_name is not None
        if generation_tracked and _spec_of(old, rtype) != _spec_of(new, rtype):
            metadata["generation"] = old["metadata"].get("generation", 1) + 1
        new = self.admission.validate(rtype, new, old, ctx, subresource)
        if rtype.kind == "Namespace" and old["metadata"].get("deletionTimestamp"):
            new["status"] = old.get("status")
        if not subresource:
            self.access.check_escalation(rtype, new, ctx)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        new = order_metadata(new)
        if same(new, old):
            return self.store.present(old, rtype)
        if ctx.dry_run:
            return self.store.present(new, rtype)
        if (
            new["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and rtype.kind != "Namespace"
        ):
            stored = self.store.put(rtype, new, "MODIFIED", old)
            self.store.remove(rtype, stored)
            return self.store.present(stored, rtype)
        stored = self.store.put(rtype, new, "MODIFIED", old)
        self._after_write(rtype, stored, old)
        return self.store.present(stored, rtype)

    # ------------------------------------------------------------------ patch

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
        """PATCH in any of the four formats. Returns (object, created)."""
        accepted = [
            t
            for t in PATCH_TYPES
            if not (t == "application/strategic-merge-patch+json" and rtype.crd_name is not None)
        ]
        if content_type not in accepted:
            raise exceptions.unsupported_media_type(content_type, accepted)
        if content_type == "application/apply-patch+yaml":
            return self._apply(rtype, namespace, name, raw, ctx, force, subresource)
        if force:
            raise exceptions.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [FieldError.forbidden("force", "may not be specified for non-apply patch")],
            )
        old = self.store.find(rtype, namespace, name)
        if old is None:
            raise exceptions.not_found(rtype.plural, rtype.group, name)
        document = patches.parse_body(raw)
        if content_type == "application/json-patch+json":
            new = patches.json_patch(old, document)
        elif content_type == "application/merge-patch+json":
            if not isinstance(document, dict):
                raise exceptions.bad_request(
                    "json: cannot unmarshal into Go value of type map[string]interface {}"
                )
            new = patches.merge_patch(old, document)
        else:
            new = patches.strategic_merge_patch(old, document, typed_node(rtype))
        if not isinstance(new, dict):
            raise exceptions.bad_request("the patch did not produce an object")
        new_metadata = new.get("metadata") or {}
        if new_metadata.get("name") != name:
            raise exceptions.bad_request(
                f"the name of the object ({new_metadata.get('name')}) does not match the name on the URL "
                f"({name})"
            )
        wanted_rv = new_metadata.get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise exceptions.stale_resource_version(rtype.plural, rtype.group, name)
        if rtype.crd_name is None and not subresource:
            builtin_rules.decode_defaults(new)
        return self._write_update(rtype, old, new, ctx, subresource), False

    def _apply(self, rtype, namespace, name, raw, ctx, force, subresource):
        if not ctx.field_manager:
            raise exceptions.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [FieldError.required("fieldManager", "is required for apply patch")],
            )
        try:
            config = goyaml.decode_object(raw)
        except goyaml.DecodeError as error:
            raise exceptions.bad_request(f"error decoding YAML: {error}") from None
        api_version, kind = config.get("apiVersion"), config.get("kind")
        if (api_version, kind) != (rtype.api_version, rtype.kind):
            # The field manager's version check: an applied configuration names exactly the URL's kind.
            group, _, version = str(api_version or "").rpartition("/")
            raise exceptions.bad_request(f"invalid object type: {group}/{version}, Kind={kind or ''}")
        self.admission.check_body_identity(rtype, namespace, config, name)
        config.setdefault("metadata", {})
        if not isinstance(config["metadata"], dict):
            raise exceptions.bad_request("metadata must be an object")
        config["metadata"]["name"] = name
        config["apiVersion"], config["kind"] = rtype.api_version, rtype.kind
        if rtype.crd_name is not None:
            problem = openapi.apply_type_error(config, rtype.schema)
            if problem:
                # The real server fails building the typed patch: a 500 without a reason.
                raise exceptions.ApiError(
                    500,
                    "",
                    f"failed to create typed patch object (/{name}; {rtype.api_version}, "
                    f"Kind={rtype.kind}): {problem}",
                )
        node = typed_node(rtype)
        now = self.clock.stamp()
        live = self.store.find(rtype, namespace, name)
        main_reset = (("f:status",),) if rtype.status_subresource and not subresource else ()
        if subresource == "status":
            main_reset = tuple(("f:" + k,) for k in config if k not in ("status", "apiVersion", "kind"))
        if live is None:
            if subresource:
                raise exceptions.not_found(rtype.plural, rtype.group, name)
            self.access.require(ctx, "create", rtype, namespace, name)
            applied = copy.deepcopy(config)
            if main_reset:
                applied.pop("status", None)
            created = ssa.apply(
                None, applied, ctx.manager, rtype.api_version, now, node, force, reset_prefixes=main_reset
            )
            return self.create(rtype, namespace, created, ctx, via_apply=config), True
        wanted_rv = config["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != live["metadata"]["resourceVersion"]:
            raise exceptions.stale_resource_version(rtype.plural, rtype.group, name)
        applied = copy.deepcopy(config)
        if main_reset and not subresource:
            applied.pop("status", None)
        if subresource == "status":
            applied = {k: v for k, v in applied.items() if k in ("apiVersion", "kind", "status")}
            applied["metadata"] = {"name": name}
        result = ssa.apply(
            live,
            applied,
            ctx.manager,
            rtype.api_version,
            now,
            node,
            force,
            subresource,
            reset_prefixes=main_reset,
        )
        if rtype.crd_name is None and not subresource:
            builtin_rules.decode_defaults(result)
        return self._write_update(rtype, live, result, ctx, subresource, managed_by_apply=True), False

    # ------------------------------------------------------------------ delete

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        ctx: RequestContext,
        propagation: str | None = None,
        preconditions: dict | None = None,
    ) -> dict:
        obj = self.store.find(rtype, namespace, name)
        if obj is None:
            raise exceptions.not_found(rtype.plural, rtype.group, name)
        preconditions = preconditions or {}
        if preconditions.get("uid") and preconditions["uid"] != obj["metadata"]["uid"]:
            raise exceptions.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {obj['metadata']['uid']}",
            )
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != obj["metadata"]["resourceVersion"]
        ):
            raise exceptions.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                f"{obj['metadata']['resourceVersion']}",
            )
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise exceptions.invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                [
                    FieldError.not_supported(
                        "propagationPolicy", propagation, ["Foreground", "Background", "Orphan", "nil"]
                    )
                ],
            )
        if rtype.kind == "Namespace":
            return self._delete_namespace(rtype, obj, ctx)
        new = copy.deepcopy(obj)
        finalizers = list(new["metadata"].get("finalizers") or [])
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if finalizers:
            if new["metadata"].get("deletionTimestamp") and finalizers == (
                obj["metadata"].get("finalizers") or []
            ):
                return self.store.present(obj, rtype)
            new["metadata"]["finalizers"] = finalizers
            new["metadata"].setdefault("deletionTimestamp", self.clock.stamp())
            new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            new = order_metadata(new)
            if ctx.dry_run:
                return self.store.present(new, rtype)
            stored = self.store.put(rtype, new, "MODIFIED", obj)
            self.store.dirty = True
            return self.store.present(stored, rtype)
        if ctx.dry_run:
            return self._deleted_answer(rtype, obj)
        gone = self.store.remove(rtype, obj)
        return self._deleted_answer(rtype, gone)

    def _deleted_answer(self, rtype: ResourceType, obj: dict) -> dict:
        if rtype.returns_deleted_object or rtype.crd_name is not None:
            return self.store.present(obj, rtype)
        details = {"name": obj["metadata"]["name"]}
        if rtype.group:
            details["group"] = rtype.group
        details.update({"kind": rtype.plural, "uid": obj["metadata"]["uid"]})
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _delete_namespace(self, rtype: ResourceType, obj: dict, ctx: RequestContext) -> dict:
        if obj["metadata"].get("deletionTimestamp"):
            return self.store.present(obj, rtype)  # already terminating: answered with the object, 200
        new = copy.deepcopy(obj)
        new["metadata"]["deletionTimestamp"] = self.clock.stamp()
        new["status"] = {"phase": "Terminating"}
        new = order_metadata(new)
        if ctx.dry_run:
            return self.store.present(new, rtype)
        stored = self.store.put(rtype, new, "MODIFIED", obj)
        self._namespace_terminating(stored["metadata"]["name"])
        self.store.dirty = True
        return self.store.present(stored, rtype)

    def delete_collection(
        self,
        rtype: ResourceType,
        namespace: str,
        ctx: RequestContext,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation: str | None = None,
    ) -> dict:
        listed = self.store.list(rtype, namespace, label_selector, field_selector)
        for item in listed["items"]:
            try:
                self.delete(
                    rtype, item["metadata"].get("namespace", ""), item["metadata"]["name"], ctx, propagation
                )
            except exceptions.ApiError as error:
                if error.code != 404:
                    raise
        listed["metadata"] = {"resourceVersion": str(self.store.current_resource_version)}
        return listed


def check_dry_run(values: list[str], options_kind: str) -> bool:
    """The `dryRun` option of a write (query values, or DeleteOptions' list): True for ["All"],
    False when absent, a 422 naming the options kind (CreateOptions, UpdateOptions, PatchOptions,
    DeleteOptions) otherwise."""
    if any(value != "All" for value in values):
        shown = exceptions.GoText("[]string{" + ", ".join(json.dumps(v) for v in values) + "}")
        raise exceptions.invalid(
            options_kind, "meta.k8s.io", "", [FieldError.not_supported("dryRun", shown, ["All"])]
        )
    return bool(values)


def _spec_of(obj: dict, rtype: ResourceType) -> dict:
    ignored = {"metadata", "apiVersion", "kind"}
    if rtype.status_subresource or rtype.crd_name is None:
        ignored.add("status")
    return {k: v for k, v in obj.items() if k not in ignored}
