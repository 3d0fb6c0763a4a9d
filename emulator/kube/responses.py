"""HTTP in and out for the emulated API server: authentication, authorization, test controls,
and translating requests into ClusterState calls and answers into JSON (or watch streams)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from urllib.parse import unquote

from aiohttp import web

from emulator.controls import MUTATING_VERBS, WRITES_SINCE_RESET, Controls
from emulator.kube import exceptions, openshift, protobuf, urls
from emulator.kube.models import ClusterState, RequestContext, WatchEvent, denial_message
from emulator.kube.rbac import ANONYMOUS, Attributes, Identity
from emulator.kube.resources import ResourceType
from emulator.kube.selectors import FieldSelector, LabelSelector
from emulator.kube.writes import check_dry_run

log = logging.getLogger(__name__)

VERSION = {
    "major": "1",
    "minor": "28",
    "gitVersion": "v1.28.7",
    "gitCommit": "97d04a81e5e02c7512c84c3a533eba3e0d3a2818",
    "gitTreeState": "clean",
    "buildDate": "2024-03-27T13:21:35Z",
    "goVersion": "go1.21.13",
    "compiler": "gc",
    "platform": "linux/amd64",
}
DEFAULT_WATCH_TIMEOUT = 1800
# What a request learned on its way, for the write log.
IDENTITY_KEY = web.RequestKey("emulator_identity", Identity)
DRY_RUN_KEY = web.RequestKey("emulator_dry_run", bool)
QUERY_KEY = web.RequestKey("emulator_query", bool)
RECONCILE_INTERVAL = 0.05
# Which options object a write's query parameters (dryRun, fieldManager, …) are decoded into.
OPTIONS_KIND = {
    "POST": "CreateOptions",
    "PUT": "UpdateOptions",
    "PATCH": "PatchOptions",
    "DELETE": "DeleteOptions",
}


def _json(body, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _error(error: exceptions.ApiError) -> web.Response:
    headers = {"Retry-After": "1"} if error.code == 429 else None
    return _json(error.status(), error.code, headers)


class KubeApi:
    """The aiohttp side of one emulated cluster."""

    def __init__(self, state: ClusterState, controls: Controls, workloads=None, tekton=None):
        self.state = state
        self.controls = controls
        self.workloads = workloads
        self.tekton = tekton
        self._watch_wakeups: set[asyncio.Event] = set()
        self._reconcile_handle: asyncio.TimerHandle | None = None
        state.listeners.append(self._wake_watchers)

    def application(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # ------------------------------------------------------------------ entry point

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = urls.resolve(request.path)
        if target.kind == "emulator":
            return await self._control(request, target)
        fault = self.controls.observe(request.method, request.path, request.query_string)
        latency = self.controls.latency
        if latency:
            await asyncio.sleep(latency)
        if fault == "reset":
            self._record_write(request, None)
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("injected connection reset")
        if fault in (429, 500):
            response = _error(exceptions.too_many_requests() if fault == 429 else exceptions.internal_error())
            self._record_write(request, response.status)
            return response
        try:
            request[IDENTITY_KEY] = identity = self._authenticate(request)
            response = await self._dispatch(request, target, identity)
        except exceptions.ApiError as error:
            response = _error(error)
        self._record_write(request, response.status)
        if request.method in MUTATING_VERBS and response.status < 400:
            self._reconcile()
        return response

    def _record_write(self, request: web.Request, status: int | None) -> None:
        """The write log behind the "writes since reset" query: who wrote what, and whether it
        could store anything (dry-run and review requests cannot)."""
        if request.method not in MUTATING_VERBS:
            return
        identity = request.get(IDENTITY_KEY)
        kind = "write"
        if request.get(DRY_RUN_KEY):
            kind = "dry-run"
        elif request.get(QUERY_KEY):
            kind = "query"
        self.controls.record_write(
            request.method, request.path, identity.user if identity else "", status, kind
        )

    def _authenticate(self, request: web.Request) -> Identity:
        header = request.headers.get("Authorization", "")
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.unauthorized()
        identity = self.state.authenticate(token.strip())
        if identity is None:
            raise exceptions.unauthorized()
        return identity

    def _reconcile(self) -> None:
        pending = self.state.reconcile()
        if pending and self._reconcile_handle is None:
            loop = asyncio.get_running_loop()

            def again():
                self._reconcile_handle = None
                self.state.mark_dirty()
                self._reconcile()

            self._reconcile_handle = loop.call_later(RECONCILE_INTERVAL, again)

    # ------------------------------------------------------------------ authorization

    def _authorize(self, identity: Identity, attrs: Attributes, rtype: ResourceType | None) -> None:
        allowed, _ = self.state.authorizer.authorize(identity, attrs)
        if allowed:
            return
        if not attrs.is_resource:
            raise exceptions.forbidden_path(f'User "{identity.user}" cannot {attrs.verb} path "{attrs.path}"')
        group = attrs.group
        raise exceptions.forbidden(attrs.resource, group, attrs.name or None, denial_message(identity, attrs))

    async def _dispatch(self, request: web.Request, target: urls.Target, identity: Identity):
        if (
            target.kind != "nonresource"
            and target.group
            and target.group not in self.state.registry.group_versions()
        ):
            # An unknown API group is not routed at all: plain-text 404, as the real server answers.
            target = urls.Target("nonresource", target.path)
        if target.kind == "nonresource":
            self._authorize(identity, Attributes(request.method.lower(), path=request.path), None)
            return self._non_resource(request)
        if target.kind == "discovery":
            self._authorize(identity, Attributes("get", path=request.path), None)
            return self._discovery(request, target)
        return await self._resource(request, target, identity)

    # ------------------------------------------------------------------ non-resource endpoints

    def _non_resource(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        if path == "/version":
            return _json(VERSION)
        if path == "/openapi/v3":
            return _json(
                {
                    "paths": {
                        gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
                        for gv, digest in self._openapi_index().items()
                    }
                }
            )
        if path.startswith("/openapi/v3/"):
            document = self._openapi_document(path.removeprefix("/openapi/v3/"))
            if document is not None:
                return _json(document)
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/":
            paths = sorted(
                {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"}
                | {f"/apis/{g}" for g in self.state.registry.group_versions() if g}
                | {
                    f"/apis/{g}/{v}"
                    for g, vs in self.state.registry.group_versions().items()
                    if g
                    for v in vs
                }
            )
            return _json({"paths": paths})
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")

    def _openapi_index(self) -> dict[str, str]:
        """OpenAPI v3 group-version paths ("api/v1", "apis/apps/v1", …) and a hash of their content."""
        index = {}
        for group, versions in self.state.registry.group_versions().items():
            for version in versions:
                gv = f"apis/{group}/{version}" if group else f"api/{version}"
                names = ",".join(t.plural for t in self.state.registry.in_group_version(group, version))
                index[gv] = hashlib.sha512(names.encode()).hexdigest().upper()
        return index

    def _openapi_document(self, gv_path: str) -> dict | None:
        """A minimal OpenAPI v3 document for one group version: its write operations with their
        query parameters and GVK extensions, enough for clients (kubectl, Helm) to find that the
        server validates fields itself (`fieldValidation`). Schemas are not served."""
        parts = gv_path.split("/")
        if parts[:1] == ["api"] and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[:1] == ["apis"] and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        types = self.state.registry.in_group_version(group, version)
        if not types:
            return None
        write_parameters = [
            {"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
            for name in ("dryRun", "fieldManager", "fieldValidation", "force")
        ]
        paths = {}
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for rtype in types:
            if rtype.virtual:
                continue
            gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
            scope = f"{prefix}/namespaces/{{namespace}}" if rtype.namespaced else prefix
            item = {
                verb: {
                    "operationId": f"{verb}{rtype.kind}",
                    "parameters": write_parameters,
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": verb,
                    "x-kubernetes-group-version-kind": gvk,
                }
                for verb in ("put", "patch")
            }
            item["get"] = {
                "operationId": f"read{rtype.kind}",
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "get",
                "x-kubernetes-group-version-kind": gvk,
            }
            paths[f"{scope}/{rtype.plural}/{{name}}"] = item
            paths[f"{scope}/{rtype.plural}"] = {
                "post": {
                    "operationId": f"create{rtype.kind}",
                    "parameters": write_parameters,
                    "responses": {"201": {"description": "Created"}},
                    "x-kubernetes-action": "post",
                    "x-kubernetes-group-version-kind": gvk,
                }
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
            "paths": paths,
            "components": {"schemas": {}},
        }

    def _discovery(self, request: web.Request, target: urls.Target) -> web.Response:
        registry = self.state.registry
        groups = registry.group_versions()
        if target.discovery == "api":
            host = request.host or "127.0.0.1"
            return _json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
                }
            )
        if target.discovery == "apis":
            return _json(
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [self._group_document(g, vs) for g, vs in groups.items() if g],
                }
            )
        if target.discovery == "group":
            if target.group not in groups:
                raise exceptions.resource_not_found()
            document = self._group_document(target.group, groups[target.group])
            return _json({"kind": "APIGroup", "apiVersion": "v1", **document})
        types = registry.in_group_version(target.group, target.version)
        if not types:
            raise exceptions.resource_not_found()
        resources = [entry for t in types for entry in t.discovery_entries()]
        group_version = f"{target.group}/{target.version}" if target.group else target.version
        return _json(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": resources,
            }
        )

    @staticmethod
    def _group_document(group: str, versions: list[str]) -> dict:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    # ------------------------------------------------------------------ resources

    async def _resource(self, request: web.Request, target: urls.Target, identity: Identity):
        rtype = self.state.registry.get(target.group, target.version, target.plural)
        if rtype is None:
            raise exceptions.resource_not_found()
        if target.namespace and not rtype.namespaced and target.plural != "namespaces":
            raise exceptions.resource_not_found()
        if target.subresource and target.subresource not in rtype.subresources:
            raise exceptions.resource_not_found()
        query = request.query
        method = request.method
        watching = target.watch_path or query.get("watch") in ("true", "1")
        verb = self._verb(method, target, watching)
        namespace = target.namespace if rtype.namespaced else ""
        if rtype.plural == "namespaces":
            namespace = ""
        attrs = Attributes(verb, target.namespace, rtype.group, rtype.plural, target.subresource, target.name)
        self._authorize(identity, attrs, rtype)
        allowed_verbs = (
            set(rtype.verbs) if not target.subresource else set(rtype.subresources[target.subresource][3])
        )
        if verb not in allowed_verbs and not (verb == "watch" and "watch" in rtype.verbs):
            raise exceptions.method_not_allowed()
        ctx = RequestContext(
            identity=identity,
            dry_run=check_dry_run(query.getall("dryRun", []), OPTIONS_KIND.get(method, "CreateOptions")),
            field_manager=query.get("fieldManager", ""),
            default_manager=(request.headers.get("User-Agent") or "unknown").split("/")[0],
            field_validation=query.get("fieldValidation", "Warn"),
        )
        request[DRY_RUN_KEY] = ctx.dry_run
        # Reviews (access, token, self-subject) are create-only questions that store nothing.
        request[QUERY_KEY] = rtype.virtual and rtype.plural.endswith("reviews")
        state = self.state
        if verb in ("list", "watch"):
            _check_list_options(query, verb)
        if rtype.group == openshift.GROUP:
            return await self._project(request, rtype, target, verb, ctx)
        if verb == "watch":
            return await self._watch(request, rtype, namespace, target)
        if verb == "list":
            if _wants_table(request):
                return _json(
                    _table(
                        state.list(
                            rtype,
                            namespace,
                            query.get("labelSelector"),
                            query.get("fieldSelector"),
                            int(query.get("limit") or 0),
                            query.get("continue", ""),
                        ),
                        rtype,
                    )
                )
            return _json(
                state.list(
                    rtype,
                    namespace,
                    query.get("labelSelector"),
                    query.get("fieldSelector"),
                    int(query.get("limit") or 0),
                    query.get("continue", ""),
                )
            )
        if verb == "get":
            if target.subresource == "log":
                return web.Response(
                    text=state.pod_log(namespace, target.name, query.get("container")),
                    content_type="text/plain",
                )
            obj = state.get(rtype, namespace, target.name)
            if _wants_table(request):
                return _json(
                    _table(
                        {
                            "kind": rtype.list_kind,
                            "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                            "items": [obj],
                        },
                        rtype,
                    )
                )
            return _json(obj)
        body_bytes = await request.read()
        if verb == "create":
            body = _decode(body_bytes, request.content_type)
            if rtype.virtual:
                return _json(state.review(rtype, namespace, body, ctx), 201)
            if target.subresource == "token":
                return _json(state.request_token(namespace, target.name, body, ctx), 201)
            return self._respond(state.create(rtype, namespace, body, ctx), 201, ctx)
        if verb == "update":
            body = _decode(body_bytes, request.content_type)
            obj, created = state.update(rtype, namespace, target.name, body, ctx, target.subresource)
            return self._respond(obj, 201 if created else 200, ctx)
        if verb == "patch":
            obj, created = state.patch(
                rtype,
                namespace,
                target.name,
                request.content_type,
                body_bytes,
                ctx,
                force=query.get("force") in ("true", "1"),
                subresource=target.subresource,
            )
            return self._respond(obj, 201 if created else 200, ctx)
        options = _decode(body_bytes, request.content_type) if body_bytes.strip() else {}
        propagation = query.get("propagationPolicy") or (options or {}).get("propagationPolicy")
        if (options or {}).get("orphanDependents") is True and not propagation:
            propagation = "Orphan"
        if options and options.get("dryRun"):
            ctx.dry_run = check_dry_run(list(options["dryRun"]), "DeleteOptions") or ctx.dry_run
            request[DRY_RUN_KEY] = ctx.dry_run
        if verb == "deletecollection":
            return _json(
                state.delete_collection(
                    rtype, namespace, ctx, query.get("labelSelector"), query.get("fieldSelector"), propagation
                )
            )
        preconditions = (options or {}).get("preconditions") or {}
        return _json(state.delete(rtype, namespace, target.name, ctx, propagation, preconditions))

    async def _project(
        self, request, rtype: ResourceType, target: urls.Target, verb: str, ctx: RequestContext
    ):
        """project.openshift.io: projects are views of namespaces; writes go to the namespace."""
        state, query = self.state, request.query
        namespaces = state.rtype("", "v1", "namespaces")
        if rtype.plural == "projectrequests":
            if verb == "list":  # answered to tell clients they may request projects
                return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
            return _json(
                openshift.request(state, _decode(await request.read(), request.content_type), ctx), 201
            )
        if verb == "watch":
            return await self._watch(request, namespaces, "", target)
        if verb == "list":
            return _json(
                openshift.list_projects(state, query.get("labelSelector"), query.get("fieldSelector"))
            )
        if verb == "get":
            return _json(openshift.get(state, target.name))
        if verb == "delete":
            return _json(openshift.delete(state, target.name, ctx))
        body = await request.read()
        if verb == "update":
            answer, _ = state.update(
                namespaces,
                "",
                target.name,
                openshift.to_namespace_body(_decode(body, request.content_type)),
                ctx,
            )
            return _json(openshift.as_project(answer))
        if verb == "patch":
            if request.content_type == "application/apply-patch+yaml":
                import yaml

                body = json.dumps(openshift.to_namespace_body(yaml.safe_load(body))).encode()
            answer, created = state.patch(
                namespaces,
                "",
                target.name,
                request.content_type,
                body,
                ctx,
                force=query.get("force") in ("true", "1"),
            )
            return _json(openshift.as_project(answer), 201 if created else 200)
        return _json(
            openshift.as_project(
                state.create(
                    namespaces, "", openshift.to_namespace_body(_decode(body, request.content_type)), ctx
                )
            ),
            201,
        )

    def _respond(self, obj: dict, status: int, ctx: RequestContext) -> web.Response:
        headers = None
        if ctx.warnings:
            # RFC 7234 warn-text is a quoted-string: quotes and backslashes inside are escaped.
            headers = {"Warning": ", ".join(
                '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in ctx.warnings
            )}
        return _json(obj, status, headers)

    @staticmethod
    def _verb(method: str, target: urls.Target, watching: bool) -> str:
        if method == "GET":
            if watching:
                return "watch"
            return "list" if target.collection else "get"
        if method == "POST":
            if target.name and not target.subresource:
                raise exceptions.method_not_allowed()
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "deletecollection" if target.collection else "delete"
        raise exceptions.method_not_allowed()

    # ------------------------------------------------------------------ watch

    def _wake_watchers(self, event: WatchEvent) -> None:
        for wakeup in list(self._watch_wakeups):
            wakeup.set()

    async def _watch(self, request: web.Request, rtype: ResourceType, namespace: str, target: urls.Target):
        query = request.query
        labels = LabelSelector(query.get("labelSelector"))
        fields = FieldSelector(query.get("fieldSelector"), rtype.kind)
        if target.name:  # /watch/namespaces/x/kind/name: a field selector on the name
            fields = FieldSelector(f"metadata.name={target.name}", rtype.kind)
        try:
            timeout = min(float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT), DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            raise exceptions.bad_request(f"invalid timeoutSeconds {query.get('timeoutSeconds')!r}") from None
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        since = query.get("resourceVersion") or ""
        initial: list[tuple[str, dict]] = []
        if since in ("", "0"):
            current = self.state.list(rtype, namespace, query.get("labelSelector"), None)
            for item in current["items"]:
                obj = self.state.present(item, rtype)
                if fields.matches(obj):
                    initial.append(("ADDED", obj))
            last = int(current["metadata"]["resourceVersion"])
        else:
            try:
                last = int(since)
            except ValueError:
                raise exceptions.bad_request(f'invalid resource version "{since}"') from None
        expired = None
        if since not in ("", "0"):
            try:
                self.state.events_since(rtype, namespace, last)
            except exceptions.ApiError as error:
                expired = error  # too old: the real server streams one ERROR event, then ends
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        if expired is not None:
            await _send(response, "ERROR", expired.status())
            await response.write_eof()
            return response
        wakeup = asyncio.Event()
        self._watch_wakeups.add(wakeup)
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            for event_type, obj in initial:
                await _send(response, event_type, obj)
            while True:
                for event in self.state.events_since(rtype, namespace, last):
                    last = event.resource_version
                    shaped = _filtered_event(event, rtype, self.state, labels, fields)
                    if shaped is not None:
                        await _send(response, *shaped)
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                wakeup.clear()
                if self.state.events_since(rtype, namespace, last):
                    continue
                try:
                    await asyncio.wait_for(wakeup.wait(), min(remaining, 5.0))
                except TimeoutError:
                    if bookmarks:
                        await _send(
                            response,
                            "BOOKMARK",
                            {
                                "kind": rtype.kind,
                                "apiVersion": rtype.api_version,
                                "metadata": {
                                    "resourceVersion": str(self.state.current_resource_version),
                                    "creationTimestamp": None,
                                },
                            },
                        )
        except ConnectionResetError:
            return response  # the client went away: nothing left to send
        finally:
            self._watch_wakeups.discard(wakeup)
        await response.write_eof()
        return response

    # ------------------------------------------------------------------ emulator controls over HTTP

    async def _control(self, request: web.Request, target: urls.Target) -> web.Response:
        try:
            identity = self._authenticate(request)
            if not identity.privileged:
                raise exceptions.forbidden_path(
                    f'User "{identity.user}" cannot {request.method.lower()} path "{request.path}"'
                )
            return await self._control_action(request, target.rest)
        except exceptions.ApiError as error:
            return _error(error)
        except (ValueError, KeyError, TypeError) as error:
            return _error(exceptions.bad_request(f"emulator control {target.rest!r}: {error}"))

    async def _control_action(self, request: web.Request, action: str) -> web.Response:
        method = request.method
        body = {}
        if method in ("POST", "PUT") and request.content_type == "application/json":
            body = await request.json()
        if action == "requests" and method == "GET":
            return _json([list(r) for r in self.controls.requests()])
        if action == "writes" and method == "GET":
            return _json([list(r) for r in self.controls.writes()])
        if action == WRITES_SINCE_RESET and method == "GET":
            return _json(self.controls.writes_since_reset())
        if action == "faults" and method == "POST":
            self.controls.fail_next(
                body.get("verb"), body.get("path", ".*"), body.get("status", 500), int(body.get("count", 1))
            )
            return _json({"ok": True}, 201)
        if action == "latency" and method == "POST":
            self.controls.set_latency(float(body["seconds"]))
            return _json({"ok": True})
        if action == "reset" and method == "POST":
            self.controls.reset()
            return _json({"ok": True})
        if action == "time" and method == "POST":
            self.state.clock.advance(float(body["advance"]))
            self.state.mark_dirty()
            self._reconcile()
            return _json({"ok": True, "now": self.state.clock.stamp()})
        if action == "workloads" and method == "POST" and self.workloads is not None:
            if "enabled" in body:
                self.workloads.enabled = bool(body["enabled"])
            if "delay" in body:
                self.workloads.delay = float(body["delay"])
            if body.get("clear_failures"):
                self.workloads.clear_failures()
            if "fail" in body:
                self.workloads.fail(body["fail"]["kind"], body["fail"].get("name", ".*"))
            self.state.mark_dirty()
            self._reconcile()
            return _json({"ok": True})
        if action == "tekton" and method == "POST" and self.tekton is not None:
            if "enabled" in body:
                self.tekton.enabled = bool(body["enabled"])
            if body.get("clear_steps"):
                self.tekton.steps.clear()
            if "step" in body:
                self.tekton.steps.script(**body["step"])
            self.state._dirty = True
            self._reconcile()
            return _json({"ok": True})
        if action == "tokens" and method == "POST":
            self.state.add_static_token(body["token"], body["user"], body.get("groups"))
            return _json({"ok": True}, 201)
        match = re.fullmatch(r"pods/([^/]+)/([^/]+)/log", action)
        if match and method == "PUT":
            container = request.query.get("container") or ""
            text = (await request.read()).decode()
            namespace, name = unquote(match[1]), unquote(match[2])
            self.state.pod_logs[(namespace, name, container or self._only_container(namespace, name))] = text
            return _json({"ok": True})
        raise exceptions.ApiError(404, "NotFound", f"no emulator control {method} /_emulator/{action}", {})

    def _only_container(self, namespace: str, name: str) -> str:
        pod = self.state.get(self.state.rtype("", "v1", "pods"), namespace, name)
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        if len(containers) != 1:
            raise exceptions.bad_request(f"pod {namespace}/{name} has containers {containers}: name one")
        return containers[0]


async def _send(response: web.StreamResponse, event_type: str, obj: dict) -> None:
    await response.write(
        (json.dumps({"type": event_type, "object": obj}, separators=(",", ":")) + "\n").encode()
    )


def _filtered_event(
    event: WatchEvent, rtype: ResourceType, state: ClusterState, labels: LabelSelector, fields: FieldSelector
):
    """The event a selective watcher sees: objects moving out of the selection are DELETED for it,
    objects moving in are ADDED, as the real watch cache reports them."""
    now = state.present(event.obj, rtype)
    matches_now = labels.matches(now["metadata"].get("labels")) and fields.matches(now)
    if event.type == "DELETED":
        return ("DELETED", now) if matches_now else None
    before = event.previous
    matched_before = (
        before is not None and labels.matches(before["metadata"].get("labels")) and fields.matches(before)
    )
    if event.type == "ADDED":
        return ("ADDED", now) if matches_now else None
    if matches_now and matched_before:
        return ("MODIFIED", now)
    if matches_now:
        return ("ADDED", now)
    if matched_before:
        return ("DELETED", now)
    return None


def _forbidden_option(field: str, why: str) -> exceptions.ApiError:
    return exceptions.invalid("ListOptions", "meta.k8s.io", "", [exceptions.FieldError.forbidden(field, why)])


def _check_list_options(query, verb: str) -> None:
    """ListOptions rules of a 1.28 server (WatchList feature gate off, as by default)."""
    if verb == "watch" and query.get("sendInitialEvents") in ("true", "1"):
        # Clients (client-go reflectors, Helm's waiters) fall back to list + watch on this answer.
        raise _forbidden_option(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
        )
    if query.get("resourceVersionMatch") and not query.get("resourceVersion"):
        raise _forbidden_option(
            "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"
        )


def _decode(raw: bytes, content_type: str):
    if not raw.strip():
        raise exceptions.bad_request("the body of the request was empty")
    if content_type == protobuf.CONTENT_TYPE:
        return protobuf.decode(raw)
    if content_type and "yaml" in content_type:
        import yaml

        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as error:
            raise exceptions.bad_request(f"error decoding YAML: {error}") from None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise exceptions.bad_request(f"couldn't get version/kind; json parse error: {error}") from None


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept.split(",")[0]


def _table(listing: dict, rtype: ResourceType) -> dict:
    """The server-side printing answer kubectl asks for: Name and Created At columns."""
    rows = []
    for item in listing["items"]:
        metadata = item["metadata"]
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {k: v for k, v in metadata.items() if k != "managedFields"},
        }
        rows.append({"cells": [metadata["name"], metadata.get("creationTimestamp")], "object": partial})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": listing["metadata"].get("resourceVersion", "")},
        "columnDefinitions": [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "priority": 0,
                "description": "Name must be unique within a namespace.",
            },
            {
                "name": "Created At",
                "type": "date",
                "format": "",
                "priority": 0,
                "description": "CreationTimestamp is a timestamp representing the server time when this "
                "object "
                "was created.",
            },
        ],
        "rows": rows,
    }
