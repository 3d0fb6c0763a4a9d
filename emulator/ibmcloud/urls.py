"""Routes of the fake IBM Cloud. One aiohttp application serves all services: their real hosts
differ (iam.cloud.ibm.com, containers.cloud.ibm.com, <region>.icr.io) but their paths do not
collide, so every endpoint parameter of the modules can point at the same local server."""

from __future__ import annotations

from aiohttp import web

from emulator.ibmcloud import responses


def routes() -> list[web.RouteDef]:
    return [
        web.post("/identity/token", responses.iam_token),
        web.get("/global/v2/getClusters", responses.get_clusters),
        web.get("/global/v2/getCluster", responses.get_cluster),
        web.post("/global/v2/applyRBACAndGetKubeconfig", responses.apply_rbac_and_get_kubeconfig),
        web.get("/openshift/{cluster_id}/.well-known/oauth-authorization-server", responses.oauth_metadata),
        web.get("/openshift/{cluster_id}/oauth/authorize", responses.oauth_authorize),
        web.get("/api/v1/namespaces", responses.list_namespaces),
        web.get("/api/v1/namespaces/details", responses.list_namespace_details),
        web.put("/api/v1/namespaces/{name}", responses.create_namespace),
        web.get("/_emulator/{action}", responses.control),
        web.post("/_emulator/{action}", responses.control),
    ]


def create_app(backend: responses.Backend) -> web.Application:
    """The aiohttp application for `backend`; mount it with emulator.server.BackgroundServer."""
    app = web.Application(middlewares=[responses.faults_and_log])
    app[responses.BACKEND_KEY] = backend
    app.add_routes(routes())
    return app
