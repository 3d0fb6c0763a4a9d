"""What every IBM Cloud module shares: endpoint options with their environment fallbacks, an HTTP
transport that retries 429 / 5xx / dropped connections by kube_retry's policy, and IBM's error
bodies (IAM, Kubernetes Service, Container Registry, OpenShift OAuth) turned into one sentence.

HTTP goes through `requests` (ibm-cloud-sdk-core cannot be installed next to kubernetes 37; see
docs/ibmcloud.md). Nothing here logs request bodies or headers: they carry the API key and tokens.
"""

from __future__ import annotations

import time
import urllib.parse

from ansible.module_utils.basic import env_fallback
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import TaskFailure
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_retry import (
    IBMCLOUD_POLICY,
    RetriesExhausted,
    is_retriable_status,
    send_with_retries,
)

DEFAULT_IAM_ENDPOINT = "https://iam.cloud.ibm.com"
DEFAULT_CS_ENDPOINT = "https://containers.cloud.ibm.com"

# Options shared by every IBM Cloud module (documented in each module's DOCUMENTATION).
COMMON_ARGUMENT_SPEC = dict(
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["IC_API_KEY", "IBMCLOUD_API_KEY"])),
    iam_endpoint=dict(type="str", fallback=(env_fallback, ["IBMCLOUD_IAM_API_ENDPOINT"])),
    validate_certs=dict(type="bool", default=True),
    ca_cert=dict(type="path", fallback=(env_fallback, ["IBMCLOUD_CA_CERT"])),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=4),
)

# The same options for a module that also takes the Kubernetes connection options, whose api_key,
# ca_cert and validate_certs are the cluster's: there the IBM Cloud ones carry an ibmcloud_ prefix.
PREFIXED_OPTIONS = ("api_key", "ca_cert", "validate_certs")
BESIDE_KUBE_ARGUMENT_SPEC = {(f"ibmcloud_{name}" if name in PREFIXED_OPTIONS else name): dict(option)
                             for name, option in COMMON_ARGUMENT_SPEC.items()}


class IBMCloudError(TaskFailure):
    """A failed IBM Cloud call, as one sentence: what was asked, what the service answered (with
    IBM's error code and request id when it sent them) and, when known, what to do."""

    def __init__(self, message, status=None, code=None, request_id=None, hint=None):
        self.code, self.request_id, self.hint = code, request_id, hint
        self.message = message
        super().__init__(self.sentence_of(message, status, code, request_id, hint), status=status)

    def result_fields(self):
        return {**super().result_fields(), **({"error_code": self.code} if self.code else {})}

    def sentence(self):
        return self.msg

    @staticmethod
    def sentence_of(message, status, code, request_id, hint):
        text = message.rstrip(".")
        details = []
        if status is not None:
            details.append(f"HTTP {status}")
        if code:
            details.append(code)
        if request_id:
            details.append(f"request id {request_id}")
        if details:
            text += f" ({', '.join(details)})"
        if hint:
            text += f"; {hint.rstrip('.')}"
        return text + "."


def resolve_endpoint(value, default, option, strip_suffix=None):
    """An endpoint option's value (or `default`) as a base URL without trailing slash; a URL that
    is not http(s)://host raises IBMCloudError naming the option."""
    url = (value or default).strip().rstrip("/")
    if strip_suffix and url.endswith(strip_suffix):
        url = url[: -len(strip_suffix)]
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise IBMCloudError(
            f"Option {option} is {url!r}, which is not an http(s) URL",
            hint=f"give a base URL such as {default}",
        )
    return url


def describe_error_body(response):
    """(message, code, request_id) from any IBM Cloud error body; falls back to the raw text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if "errorCode" in body or "errorMessage" in body:  # IAM
            context = body.get("context") or {}
            return body.get("errorMessage", ""), body.get("errorCode"), context.get("requestId")
        if "description" in body:  # Kubernetes Service
            return body.get("description", ""), body.get("code"), body.get("incidentID")
        if "error_description" in body:  # OAuth
            return body.get("error_description", ""), body.get("error"), None
        if "message" in body:  # Container Registry and others
            return body.get("message", ""), body.get("code"), body.get("request-id") or body.get("trace")
    text = (response.text or "").strip().replace("\n", " ")
    return (text[:200] or response.reason or "no details"), None, None


class Transport:
    """`requests` with certificate options; 429, 5xx and dropped connections are retried by the one
    retry loop (kube_retry.send_with_retries) with IBMCLOUD_POLICY and `retries` more attempts."""

    def __init__(self, validate_certs=True, ca_cert=None, timeout=30, retries=4, sleep=time.sleep):
        requests = _requests()
        if retries < 0 or timeout <= 0:
            raise IBMCloudError(f"Options retries ({retries}) and timeout ({timeout}) must be "
                                "non-negative and positive", hint="correct the task's options")
        self.verify = (ca_cert or True) if validate_certs else False
        self.timeout = timeout
        self.retries = retries
        self.policy = IBMCLOUD_POLICY.with_retries(retries)
        self.sleep = sleep
        self._requests = requests
        self.session = requests.Session()
        # trust_env would let a ~/.netrc entry replace the Authorization header; proxies from the
        # environment are applied per request instead.
        self.session.trust_env = False

    def request(self, method, url, what, verify=None, **kwargs):
        """Send, retrying what is worth retrying (kube_retry's loop and IBMCLOUD_POLICY); `what`
        names the call for error sentences. A retriable answer still there after the last attempt
        is returned (the caller's `error` says how many attempts it took)."""
        kwargs.setdefault("timeout", self.timeout)

        def send():
            response = self.session.request(method, url, verify=self.verify if verify is None else verify,
                                            proxies=self._requests.utils.get_environ_proxies(url), **kwargs)
            return response.status_code, response.headers, response

        try:
            return send_with_retries(send, self.policy, self.sleep, retriable_error=_dropped)[2]
        except self._requests.exceptions.SSLError as error:
            raise IBMCloudError(
                f"{what} failed: the TLS certificate of {_origin(url)} could not be verified ({error})",
                hint="set ca_cert (or IBMCLOUD_CA_CERT) to the CA bundle that signed it",
            ) from None
        except RetriesExhausted as exhausted:
            if exhausted.error is None:
                return exhausted.body
            raise IBMCloudError(
                f"{what} failed: {_origin(url)} could not be reached after {exhausted.attempts} attempts "
                f"({type(exhausted.error).__name__})",
                hint="check the endpoint option and the network (proxy, private endpoint)",
            ) from None

    def error(self, what, response, hint=None):
        """IBMCloudError for a response that is not what the caller needed."""
        message, code, request_id = describe_error_body(response)
        if is_retriable_status(response.status_code):
            hint = hint or f"still failing after {self.retries + 1} attempts; try again later"
        return IBMCloudError(f"{what} failed: {message}", status=response.status_code, code=code,
                             request_id=request_id, hint=hint)


def _requests():
    """The `requests` library, imported when the first IBM Cloud call is made: a kubeconfig login
    never pays its import (75 ms, a twentieth of a provision). The IBM Cloud action plugins import
    it earlier, in Ansible's main process, so that the workers inherit it."""
    try:
        import requests
    except ImportError:
        raise IBMCloudError("The Python library 'requests' is not installed on the controller",
                            hint="install it with pip install requests") from None
    return requests


def _dropped(error):
    """A connection that failed or timed out (retried), not a certificate refused (final)."""
    exceptions = _requests().exceptions
    return (isinstance(error, exceptions.ConnectionError | exceptions.Timeout)
            and not isinstance(error, exceptions.SSLError))


def _origin(url):
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def transport_from_params(params, sleep=time.sleep, prefix=""):
    """The Transport for a module's options (``prefix="ibmcloud_"`` for BESIDE_KUBE_ARGUMENT_SPEC)."""
    return Transport(
        validate_certs=params[f"{prefix}validate_certs"],
        ca_cert=params.get(f"{prefix}ca_cert"),
        timeout=params["timeout"],
        retries=params["retries"],
        sleep=sleep,
    )


def require_api_key(params):
    if not params.get("api_key"):
        raise IBMCloudError(
            "No IBM Cloud API key was given",
            hint="set the api_key option or the IC_API_KEY / IBMCLOUD_API_KEY environment variable",
        )
    return params["api_key"]
