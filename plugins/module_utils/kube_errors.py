"""Kubernetes API failures turned into one sentence a person can act on.

Every failure the shared core raises is a ``KubeError``; its ``msg`` names the object, the action,
the API server's answer and what to do about it, so a module can hand it to ``fail_json`` as is:

    raise KubeError.invalid('name', 'must be a lowercase RFC 1123 label', 'e.g. "ci-builds"')
    raise describe_api_answer(status, body, action='create', target=object_ref('Namespace', 'ci'))

``describe_api_answer`` reads the API's own Status body (its ``message`` already says, for a 403,
which identity lacks which verb on which resource); ``describe_transport_failure`` covers the
answers that never came (connection refused, TLS, timeouts) and names the URL that was tried.
Nothing here imports the kubernetes package: translation must stay cheap and testable offline.
"""

from __future__ import annotations

import json

# API groups whose absence means a whole component is missing from the cluster.
COMPONENT_OF_GROUP = {
    "tekton.dev": "Tekton Pipelines",
    "triggers.tekton.dev": "Tekton Triggers",
    "project.openshift.io": "OpenShift (the project API)",
    "route.openshift.io": "OpenShift (the route API)",
    "metrics.k8s.io": "metrics-server",
}


class TaskFailure(Exception):
    """Every failure a task reports: ``msg`` is the one sentence to show (what, where, what to do).
    kube_runner's funnel turns it into the task's ``failed`` result, with ``result_fields``."""

    def __init__(self, msg, *, status=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status

    def result_fields(self):
        """Machine-readable details returned beside ``msg`` (only those that are set)."""
        return {"status": self.status} if self.status else {}


class KubeError(TaskFailure):
    """A Kubernetes API (or module input) failure the user can act on."""

    def __init__(self, msg, *, status=None, reason=None, retriable=False):
        super().__init__(msg, status=status)
        self.reason = reason
        self.retriable = retriable

    @classmethod
    def invalid(cls, option, problem, fix):
        """Bad module input, reported before any API call."""
        return cls(f"Invalid value for option '{option}': {problem}; {fix}.")


def object_ref(kind, name=None, namespace=None):
    """'ServiceAccount "builder" in namespace "ci"' — how messages name an object."""
    text = f'{kind} "{name}"' if name else f"{kind} objects"
    return f'{text} in namespace "{namespace}"' if namespace else text


def parse_status(body):
    """The API's Status object from a response body (bytes, str or dict), or {} if it has none."""
    if isinstance(body, dict):
        return body if body.get("kind") == "Status" else {}
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) and data.get("kind") == "Status" else {}


def is_field_manager_conflict(status_body):
    """True for a server-side-apply conflict (fields owned by another manager), not a stale write."""
    causes = (status_body.get("details") or {}).get("causes") or []
    # A StatusCause's type is serialized as "reason".
    return any(cause.get("reason") == "FieldManagerConflict" for cause in causes)


def _group_of(api_version):
    return api_version.rpartition("/")[0] if "/" in (api_version or "") else ""


def not_served(api_version, kind):
    """The cluster does not serve this API group/version (discovery miss or a bare 404)."""
    group = _group_of(api_version)
    component = COMPONENT_OF_GROUP.get(group)
    fix = (
        f"install {component} on the cluster (or point the kubeconfig at a cluster that has it)"
        if component
        else f"install the component that provides the {group or 'core'} API group, or fix apiVersion/kind"
    )
    return KubeError(
        f"The API server does not serve {kind} in {api_version}; {fix}.", status=404, reason="NotServed"
    )


def describe_api_answer(status, body, *, action, target, api_version=None, kind=None, attempts=1):
    """KubeError for an HTTP error answer of the API server."""
    status_body = parse_status(body)
    message = (status_body.get("message") or "").strip()
    reason = status_body.get("reason") or ""
    answered = f"the API server answered {status} {reason or _REASON_PHRASES.get(status, '')}".rstrip()
    if message:
        answered += f" ({message})"
    opening = f"Could not {action} {target}: {answered}"

    def error(fix, retriable=False):
        return KubeError(f"{opening}; {fix}.", status=status, reason=reason, retriable=retriable)

    if status == 401:
        return error(
            "the credentials were refused: check the kubeconfig/context, or that the token or api_key "
            "is current (tokens expire), or that the client certificate belongs to this cluster"
        )
    if status == 403:
        return error(
            "grant that identity the missing verb on that resource with a Role/ClusterRole and a "
            "binding, or run with credentials that have it"
        )
    if status == 404:
        details = status_body.get("details") or {}
        if not status_body and kind:
            # A bare "404 page not found" means the URL's API group/version is not routed at all.
            return not_served(api_version or "v1", kind)
        if details.get("kind") == "namespaces" and target.endswith(f'namespace "{details.get("name")}"'):
            return error(f'create namespace "{details.get("name")}" first (module k8s_namespace)')
        return error("check the name and namespace, or create it first")
    if status == 409:
        if is_field_manager_conflict(status_body):
            reason = "FieldManagerConflict"  # not a stale write: retry_on_conflict must not retry it
            return error(
                "another field manager owns those fields: stop managing them elsewhere, or set "
                "force_conflicts: true to take them over"
            )
        if reason == "AlreadyExists":
            return error("it already exists; choose another name or manage the existing one")
        return error("it was changed concurrently; run the task again")
    if status == 410:
        return error("the requested version is gone; run the task again")
    if status in (400, 422):
        return error("fix the definition as the message says")
    if status == 429 or status >= 500:
        times = f" {attempts} times in a row" if attempts > 1 else ""
        return KubeError(
            f"{opening}{times}; the API server is overloaded or failing: check its health and run the "
            "task again later.",
            status=status,
            reason=reason,
            retriable=True,
        )
    return error("check the request against the API server's answer")


_REASON_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def describe_transport_failure(exc, *, action, target, url, attempts=1):
    """KubeError for a request that got no HTTP answer (refused, reset, TLS, timeout, DNS)."""
    text = _innermost_text(exc)
    lowered = text.lower()
    tried = f" ({attempts} attempts)" if attempts > 1 else ""
    opening = f"Could not {action} {target}: "
    if "refused" in lowered:
        msg = (
            f"the connection to {url} was refused{tried}; check that the API server is running and "
            "that the kubeconfig/host points at it"
        )
    elif "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        msg = (
            f"the TLS connection to {url} failed ({text}); set ca_cert to the cluster's CA bundle "
            "(or validate_certs: false on a throw-away test cluster)"
        )
    elif "timed out" in lowered or "timeout" in lowered:
        msg = f"{url} did not answer in time{tried}; check the network path and the API server's health"
    elif any(s in lowered for s in ("name or service not known", "nodename nor servname", "resolution")):
        msg = f"the host name in {url} does not resolve; fix the server address in the kubeconfig/host"
    else:
        msg = f"the connection to {url} failed{tried} ({text}); check the network path to the API server"
    return KubeError(opening + msg + ".", status=None, reason=type(exc).__name__)


def _innermost_text(exc):
    """urllib3 wraps the socket error a few levels deep; the innermost one says what happened."""
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "reason", None)
        if isinstance(inner, BaseException):
            current = inner
            continue
        inner = current.__cause__ or current.__context__
        if inner is None:
            break
        current = inner
    text = str(current) or type(current).__name__
    # urllib3 prefixes the connection object's repr; drop it, keep what the socket said.
    return text.split(">: ", 1)[-1]
