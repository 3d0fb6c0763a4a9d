"""IBM Cloud's own error shapes, one class per service, each able to render its JSON body.

IAM (identity/token):    {"errorCode": "BXNIM0415E", "errorMessage": "...", "context": {"requestId": ...}}
Kubernetes Service:      {"incidentID": ..., "code": "G0004", "description": "...", "type": "General",
                          "recoveryCLI": "..."}
Container Registry:      {"code": "CRG0000E", "message": "...", "request-id": ...}  (shape from the CLI's
                          messages; the exact codes of the registry are not public, see docs/ibmcloud.md)

Codes seen in IBM's public docs and SDK tests: BXNIM0415E (unknown API key, 400), BXNIM0407E /
BXNIM0408E (refresh token invalid / expired, 400), G0004 (cluster not found, 404), A0003 (IAM token
not verified, 401). Every other code here is a stand-in with the right shape: fidelity unknown.
"""

from __future__ import annotations

import uuid


def _request_id() -> str:
    return uuid.uuid4().hex


class IBMCloudFakeError(Exception):
    status = 500

    def body(self, request_url: str = "") -> dict:
        raise NotImplementedError


class IAMError(IBMCloudFakeError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self, request_url: str = "") -> dict:
        return {
            "errorCode": self.code,
            "errorMessage": self.message,
            "context": {
                "requestId": _request_id(),
                "requestType": "incoming.Identity_Token",
                "url": request_url,
            },
        }


def api_key_not_found() -> IAMError:
    return IAMError(400, "BXNIM0415E", "Provided API key could not be found.")


def property_missing(name: str) -> IAMError:
    return IAMError(400, "BXNIM0109E", f"Property missing or empty. Property name: {name}")


def unsupported_grant_type(grant_type: str) -> IAMError:
    return IAMError(400, "BXNIM0104E", f"Unsupported grant type: {grant_type}")


def refresh_token_invalid() -> IAMError:
    return IAMError(400, "BXNIM0407E", "Provided refresh token is invalid.")


def refresh_token_expired() -> IAMError:
    return IAMError(400, "BXNIM0408E", "Provided refresh token is expired")


class KubernetesServiceError(IBMCloudFakeError):
    def __init__(self, status: int, code: str, description: str, error_type: str, recovery: str = ""):
        super().__init__(f"{code}: {description}")
        self.status, self.code, self.description = status, code, description
        self.error_type, self.recovery = error_type, recovery

    def body(self, request_url: str = "") -> dict:
        body = {
            "incidentID": str(uuid.uuid4()),
            "code": self.code,
            "description": self.description,
            "type": self.error_type,
        }
        if self.recovery:
            body["recoveryCLI"] = self.recovery
        return body


def cluster_not_found() -> KubernetesServiceError:
    return KubernetesServiceError(
        404,
        "G0004",
        "The specified cluster could not be found. If applicable, make sure that you target the "
        "correct account and resource group.",
        "General",
        "To list the clusters you have access to, run 'ibmcloud ks cluster ls'.",
    )


def token_not_verified() -> KubernetesServiceError:
    return KubernetesServiceError(
        401,
        "A0003",
        "Your IAM token could not be verified. To retrieve your access tokens, run 'ibmcloud iam "
        "oauth-tokens'. Then use the IAM token for the Authorization header.",
        "Authentication",
        "To log in to IBM Cloud, run 'ibmcloud login'.",
    )


def token_missing() -> KubernetesServiceError:
    return KubernetesServiceError(
        401, "A0001", "The request is missing an IAM token in the Authorization header.", "Authentication"
    )


def bad_request(description: str) -> KubernetesServiceError:
    return KubernetesServiceError(400, "E0017", description, "General")


class RegistryError(IBMCloudFakeError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self, request_url: str = "") -> dict:
        return {"code": self.code, "message": self.message, "request-id": _request_id()}


def registry_unauthorized() -> RegistryError:
    return RegistryError(401, "CRG0101E", "You are not authorized to access the specified resource.")


def registry_account_mismatch() -> RegistryError:
    return RegistryError(403, "CRG0102E", "The 'Account' header does not name the account of the IAM token.")


def namespace_taken() -> RegistryError:
    return RegistryError(
        409,
        "CRG0020E",
        "The requested namespace is already in use by another IBM Cloud account. Choose another name.",
    )


def namespace_invalid(name: str) -> RegistryError:
    return RegistryError(
        400,
        "CRG0022E",
        f"The namespace name '{name}' is not valid. Namespaces are 4 to 30 characters: "
        "lowercase letters, numbers, hyphens and underscores, starting and ending with a letter or number.",
    )


class OAuthError(IBMCloudFakeError):
    """OpenShift's OAuth server: a challenging client gets 401 with a WWW-Authenticate challenge."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message

    def body(self, request_url: str = "") -> dict:
        return {"error": "access_denied", "error_description": self.message}


class InjectedFault(IBMCloudFakeError):
    """An answer forced by a test control (429 / 5xx); the body mimics the service it hit."""

    def __init__(self, status: int, service: str):
        super().__init__(f"injected {status}")
        self.status, self.service = status, service

    def body(self, request_url: str = "") -> dict:
        if self.service == "iam":
            code = "BXNIM0439E" if self.status == 429 else "BXNIM0500E"
            return IAMError(self.status, code, "Injected failure.").body(request_url)
        if self.service == "registry":
            return RegistryError(self.status, "CRG0500E", "Injected failure.").body(request_url)
        error_type = "RateLimit" if self.status == 429 else "General"
        return KubernetesServiceError(self.status, "G0001", "Injected failure.", error_type).body(request_url)
