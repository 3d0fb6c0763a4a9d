"""Authorization beyond the request's own RBAC check: the escalation rule for Roles and bindings,
the review APIs (SubjectAccessReview and its Local / Self variants, SelfSubjectRulesReview,
TokenReview, SelfSubjectReview), and the wording of 403 reasons. RBAC evaluation itself is in
`rbac.py`."""

from __future__ import annotations

import copy

from emulator.kube import exceptions, ssa
from emulator.kube.context import RequestContext
from emulator.kube.exceptions import FieldError
from emulator.kube.rbac import RBAC_GROUP, Attributes, Authorizer, Identity, format_missing
from emulator.kube.resources import ResourceType
from emulator.kube.storage import Clock, Store
from emulator.kube.tokens import API_AUDIENCES, TokenAuthority
from emulator.kube.typed import object_node


class AccessControl:
    def __init__(self, store: Store, tokens: TokenAuthority, clock: Clock):
        self.store = store
        self.tokens = tokens
        self.clock = clock
        self.authorizer = Authorizer(self._rbac_objects, self._rbac_lookup)
        self._review_fields: dict[tuple, list[dict]] = {}  # managedFields of a review, by its shape

    def _rbac_objects(self, plural: str) -> list[dict]:
        return list(self.store.objects_of(RBAC_GROUP, plural).values())

    def _rbac_lookup(self, plural: str, namespace: str, name: str) -> dict | None:
        return self.store.objects_of(RBAC_GROUP, plural).get((namespace, name))

    def allows(self, ctx: RequestContext, attrs: Attributes) -> bool:
        return self.authorizer.authorize(ctx.identity, attrs)[0]

    def require(self, ctx: RequestContext, verb: str, rtype: ResourceType, namespace: str, name: str) -> None:
        """A secondary check inside a request (an apply that creates needs `create` too)."""
        if not self.allows(ctx, Attributes(verb, namespace, rtype.group, rtype.plural, name=name)):
            raise exceptions.forbidden(
                rtype.plural, rtype.group, name, denial(ctx.identity, verb, rtype, namespace)
            )

    def check_escalation(self, rtype: ResourceType, obj: dict, ctx: RequestContext) -> None:
        """RBAC's escalation check: a role may only grant what its author holds (or `escalate`);
        a binding only to a role whose rules its author holds (or `bind`)."""
        if ctx.identity.privileged or rtype.group != RBAC_GROUP:
            return
        namespace = obj["metadata"].get("namespace", "")
        name = obj["metadata"].get("name", "")
        if rtype.kind in ("Role", "ClusterRole"):
            if self.allows(ctx, Attributes("escalate", namespace, rtype.group, rtype.plural, name=name)):
                return
            rules = obj.get("rules") or []
        else:
            ref = obj.get("roleRef") or {}
            plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            if self.allows(ctx, Attributes("bind", namespace, rtype.group, plural, name=ref.get("name", ""))):
                return
            role = self._rbac_lookup(plural, namespace if plural == "roles" else "", ref.get("name", ""))
            if role is None:
                raise exceptions.forbidden(
                    rtype.plural,
                    rtype.group,
                    name,
                    f'{ref.get("kind")}.rbac.authorization.k8s.io "{ref.get("name")}" not found',
                )
            rules = role.get("rules") or []
        missing = self.authorizer.covers(ctx.identity, namespace, rules)
        if missing:
            identity = ctx.identity
            raise exceptions.forbidden(
                rtype.plural,
                rtype.group,
                name,
                f'user "{identity.user}" (groups={identity.describe_groups()}) is attempting to grant RBAC '
                f"permissions not currently held:\n{format_missing(missing)}",
            )

    # ------------------------------------------------------------------ review APIs

    def review(self, rtype: ResourceType, namespace: str, body: dict, ctx: RequestContext) -> dict:
        """SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview,
        TokenReview, SelfSubjectReview: questions answered without storing anything."""
        if not isinstance(body, dict):
            raise exceptions.bad_request("the body of the request was in an unknown format")
        spec = body.get("spec") or {}
        kind = rtype.kind
        if kind == "SelfSubjectRulesReview":
            resource_rules, non_resource_rules = self.authorizer.rules_for(
                ctx.identity, spec.get("namespace", "")
            )
            # The real answer echoes no spec and records no managedFields.
            return {
                "kind": rtype.kind,
                "apiVersion": rtype.api_version,
                "metadata": {"creationTimestamp": None},
                "spec": {},
                "status": {
                    "resourceRules": resource_rules,
                    "nonResourceRules": non_resource_rules,
                    "incomplete": False,
                },
            }
        if kind == "SelfSubjectReview":
            info = {"username": ctx.identity.user, "groups": ctx.identity.groups}
            if ctx.identity.uid:
                info["uid"] = ctx.identity.uid
            return self._review_answer(rtype, ctx, body, {"userInfo": info})
        if kind == "TokenReview":
            identity = self.tokens.authenticate(spec.get("token"))
            status = {"authenticated": identity is not None}
            if identity is not None:
                status["user"] = {"username": identity.user, "groups": identity.groups}
                if identity.uid:
                    status["user"]["uid"] = identity.uid
                status["audiences"] = list(API_AUDIENCES)
            return self._review_answer(rtype, ctx, body, status)
        resource = spec.get("resourceAttributes")
        non_resource = spec.get("nonResourceAttributes")
        if kind == "SelfSubjectAccessReview":
            identity = ctx.identity
        else:
            user, groups = spec.get("user", ""), list(spec.get("groups") or [])
            errors = []
            if not user and not groups:
                errors.append(
                    FieldError.invalid("spec.user", user, "at least one of user or group must be specified")
                )
            if (
                kind == "LocalSubjectAccessReview"
                and resource is not None
                and resource.get("namespace") != namespace
            ):
                errors.append(
                    FieldError.invalid(
                        "spec.resourceAttributes.namespace",
                        resource.get("namespace", ""),
                        "must match metadata.namespace",
                    )
                )
            if errors:
                raise exceptions.invalid(kind, rtype.group, "", errors)
            identity = Identity(user, groups, spec.get("uid", ""))
        if (resource is None) == (non_resource is None):
            raise exceptions.invalid(
                kind,
                rtype.group,
                "",
                [
                    FieldError.invalid(
                        "spec.resourceAttributes",
                        go_nil(resource),
                        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                    )
                ],
            )
        if resource is not None:
            attrs = Attributes(
                resource.get("verb", ""),
                resource.get("namespace", ""),
                resource.get("group", ""),
                resource.get("resource", ""),
                resource.get("subresource", ""),
                resource.get("name", ""),
            )
        else:
            attrs = Attributes(non_resource.get("verb", ""), path=non_resource.get("path", ""))
        allowed, reason = self.authorizer.authorize(identity, attrs)
        status = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return self._review_answer(rtype, ctx, body, status)

    def _review_answer(self, rtype: ResourceType, ctx: RequestContext, body: dict, status: dict) -> dict:
        answer = {
            "kind": rtype.kind,
            "apiVersion": rtype.api_version,
            "metadata": {"creationTimestamp": None},
            "spec": copy.deepcopy(body.get("spec") or {}),
            "status": status,
        }
        now = self.clock.stamp()
        # A review's managedFields depend on which fields its spec sets, not on their values: a
        # thousand questions of one shape are recorded once (the access review asks that many).
        key = (rtype.kind, rtype.api_version, ctx.manager, _field_shape(answer["spec"]))
        managed = self._review_fields.get(key)
        if managed is None:
            node = object_node(rtype.kind, rtype.schema, rtype.crd_name is not None)
            record = {"spec": copy.deepcopy(answer["spec"])}
            ssa.record_update({}, record, ctx.manager, rtype.api_version, now, node, True)
            managed = (record.get("metadata") or {}).get("managedFields") or []
            self._review_fields[key] = managed
        if managed:
            answer["metadata"]["managedFields"] = [{**entry, "time": now} for entry in managed]
        return answer


def denial(identity: Identity, verb: str, rtype: ResourceType, namespace: str, subresource: str = "") -> str:
    """The reason in a 403: `User "x" cannot get resource "secrets" in API group "" in the namespace "y"`"""
    resource = rtype.plural + (f"/{subresource}" if subresource else "")
    scope = f'in the namespace "{namespace}"' if rtype.namespaced and namespace else "at the cluster scope"
    return f'User "{identity.user}" cannot {verb} resource "{resource}" in API group "{rtype.group}" {scope}'


def denial_message(identity: Identity, attrs: Attributes) -> str:
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return (
        f'User "{identity.user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}" '
        f"{scope}"
    )


def go_nil(value):
    """How Go prints a nil value in field errors."""
    return exceptions.GoText("null") if value is None else value


def _field_shape(value):
    """What fieldsV1 can depend on: a map's keys (recursively), a list as it is (its items may be
    set members or map keys); scalar values of a map's fields do not matter."""
    if isinstance(value, dict):
        return tuple(sorted((key, _field_shape(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", repr(value))
    return value is None  # a null may be dropped, not recorded
