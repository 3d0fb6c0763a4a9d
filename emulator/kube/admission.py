"""Admission and defaulting: what a write must satisfy before it is stored, and what the server
adds to it. The request body names the object the URL names; namespaced objects go to a namespace
that exists and is not terminating; the object is pruned, defaulted and validated (built-in rules
or the CRD's structural schema, CRDs themselves by apiextensions' rules); created objects receive
the server's additions (cluster IPs, storage forms, the CRD cleanup finalizer); a Pod's
ServiceAccount must exist."""

from __future__ import annotations

import ipaddress
import itertools

from emulator.kube import builtin_rules, exceptions, openapi
from emulator.kube.authorization import go_nil
from emulator.kube.context import RequestContext
from emulator.kube.exceptions import FieldError
from emulator.kube.resources import ResourceType
from emulator.kube.storage import Store

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
# Cluster IPs are never routed here. They come from a loopback block so that no address outside
# loopback appears in the project; a real cluster uses its --service-cluster-ip-range instead.
SERVICE_NETWORK = "127.0.80.0/24"
KUBERNETES_SERVICE_IP = "127.0.80.1"


class Admission:
    def __init__(self, store: Store):
        self.store = store
        self._service_ips = (
            str(ip) for ip in itertools.islice(ipaddress.ip_network(SERVICE_NETWORK).hosts(), 10, None)
        )

    def _namespaces(self) -> ResourceType:
        return self.store.registry.get("", "v1", "namespaces")

    def check_namespace(self, rtype: ResourceType, namespace: str, name: str, creating: bool) -> None:
        if not rtype.namespaced:
            return
        ns = self.store.find(self._namespaces(), "", namespace)
        if ns is None:
            raise exceptions.not_found("namespaces", "", namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            raise exceptions.forbidden(
                rtype.plural,
                rtype.group,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
                causes=[
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            )

    def check_body_identity(
        self, rtype: ResourceType, namespace: str, body: dict, url_name: str | None
    ) -> None:
        if not isinstance(body, dict):
            raise exceptions.bad_request("the body of the request was in an unknown format")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise exceptions.bad_request("metadata must be an object")
        body_ns = (metadata or {}).get("namespace")
        if rtype.namespaced and body_ns and body_ns != namespace:
            raise exceptions.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        body_name = (metadata or {}).get("name")
        if url_name is not None and body_name and body_name != url_name:
            raise exceptions.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({url_name})"
            )
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and kind and (kind != rtype.kind or api_version != rtype.api_version):
            target = self.store.registry.by_kind(api_version, kind)
            if target is None or (target.group, target.plural) != (rtype.group, rtype.plural):
                raise exceptions.bad_request(
                    f"the API version in the data ({api_version}) does not match the expected API version "
                    f"({rtype.api_version})"
                )

    def validate(
        self, rtype: ResourceType, obj: dict, old: dict | None, ctx: RequestContext, subresource: str = ""
    ) -> dict:
        """The object as it will be stored (custom resources pruned and defaulted), or a 422."""
        name = obj["metadata"].get("name", "")
        errors: list[FieldError] = []
        if old is None:
            errors += builtin_rules.validate_name(rtype.kind, name) if name else []
        if rtype.crd_name is not None:
            unknown: list[str] = []
            obj = openapi.prune(obj, rtype.schema, "", unknown, top=True)
            if unknown:
                if ctx.field_validation == "Strict":  # the decoder refuses before any validation
                    raise exceptions.bad_request(
                        f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                        "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in sorted(unknown))
                    )
                elif ctx.field_validation == "Warn":
                    ctx.warnings += [f'unknown field "{p}"' for p in sorted(unknown)]
            obj = openapi.apply_defaults(obj, rtype.schema)
            if subresource == "status" and rtype.status_subresource:
                # A status write validates only status, against its own subschema, with field paths
                # relative to it ("podName: Required value"), as the real status strategy does.
                status_schema = ((rtype.schema or {}).get("properties") or {}).get("status")
                if "status" in obj:
                    errors += openapi.validate(obj["status"], status_schema, "")
            else:
                errors += openapi.validate(obj, rtype.schema, "", top=True)
        else:
            errors += builtin_rules.validate(obj, old)
            if rtype.kind == "CustomResourceDefinition":
                errors += crd_errors(obj)
        for key, value in (obj["metadata"].get("labels") or {}).items():
            if not isinstance(value, str):
                errors.append(FieldError.invalid(f"metadata.labels.{key}", value, "must be a string"))
        if errors:
            raise exceptions.invalid(rtype.kind, rtype.group, name, errors)
        return obj

    def mutate_created(self, rtype: ResourceType, obj: dict) -> None:
        """What the server adds to an object it creates (after its uid is set)."""
        if rtype.crd_name is None:
            builtin_rules.create_mutations(obj, lambda: next(self._service_ips))
            builtin_rules.storage_form(obj)
        if rtype.kind == "CustomResourceDefinition":
            obj["metadata"].setdefault("finalizers", [])
            if CRD_CLEANUP_FINALIZER not in obj["metadata"]["finalizers"]:
                obj["metadata"]["finalizers"].append(CRD_CLEANUP_FINALIZER)

    def check_pod_service_account(self, pod: dict, namespace: str) -> None:
        """The ServiceAccount admission plugin: a pod runs as an existing account, `default` if unnamed."""
        account = (pod.get("spec") or {}).setdefault("serviceAccountName", "default")
        pod["spec"].setdefault("serviceAccount", account)
        accounts = self.store.registry.get("", "v1", "serviceaccounts")
        if self.store.find(accounts, namespace, account) is None:
            raise exceptions.forbidden(
                "pods",
                "",
                pod["metadata"]["name"],
                f"error looking up service account {namespace}/{account}: "
                f'serviceaccount "{account}" not found',
            )


def crd_errors(crd: dict) -> list[FieldError]:
    """apiextensions' validation of a CustomResourceDefinition (the subset the emulator checks)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    errors = []
    if not spec.get("group"):
        errors.append(FieldError.required("spec.group"))
    if not names.get("plural"):
        errors.append(FieldError.required("spec.names.plural"))
    if not names.get("kind"):
        errors.append(FieldError.required("spec.names.kind"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(
            FieldError.not_supported("spec.scope", spec.get("scope", ""), ["Cluster", "Namespaced"])
        )
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if crd["metadata"].get("name") != expected:
        errors.append(
            FieldError.invalid(
                "metadata.name",
                crd["metadata"].get("name", ""),
                'must be spec.names.plural+"."+spec.group',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        errors.append(
            FieldError.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            FieldError.invalid(
                "spec.versions",
                go_nil(versions),
                "must have exactly one version marked as storage version",
            )
        )
    for n, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        # Every version needs a schema, served or not.
        if schema is None:
            errors.append(
                FieldError.required(f"spec.versions[{n}].schema.openAPIV3Schema", "schemas are required")
            )
        else:
            errors += openapi.structural_problems(schema, f"spec.versions[{n}].schema.openAPIV3Schema")
    return errors
