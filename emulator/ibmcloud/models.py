"""State and rules of the fake IBM Cloud services; no HTTP here (see responses.py).

Everything a rule needs is in these classes, so a rule can be tested without a socket. Times come
from a `Clock` that tests can move forward, so "the token expired" needs no waiting.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time

from emulator.ibmcloud import exceptions


class Clock:
    """Wall-clock time plus an offset that tests advance instead of sleeping."""

    def __init__(self):
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _random_id(length: int = 20) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclasses.dataclass(frozen=True)
class Identity:
    """Whom an API key belongs to: a user (IBMid-…) or a service ID (iam-ServiceId-…)."""

    iam_id: str
    account_id: str
    name: str = "tekton-cd test user"
    email: str = "tester@example.invalid"


@dataclasses.dataclass
class _IssuedToken:
    identity: Identity
    expires_at: float
    api_key: str


class IAMBackend:
    """IAM's token endpoint: API key → access token (a JWT) + refresh token; refresh grant.

    Like real IAM, the access token carries `iam_id`, `account.bss` and `exp` claims and lives an
    hour; a refresh token is issued only to a client that authenticates (the CLI's `bx:bx`),
    otherwise the answer says `"refresh_token": "not_supported"`.
    """

    APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
    KNOWN_CLIENTS = {"bx": "bx", "kube": "kube"}

    def __init__(
        self,
        clock: Clock,
        issuer: str = "https://iam.cloud.ibm.com/identity",
        token_lifetime: int = 3600,
        refresh_lifetime: int = 30 * 24 * 3600,
    ):
        self.clock = clock
        self.issuer = issuer
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self._signing_key = secrets.token_bytes(32)
        self._api_keys: dict[str, Identity] = {}
        self._access_tokens: dict[str, _IssuedToken] = {}
        self._refresh_tokens: dict[str, _IssuedToken] = {}
        self._lock = threading.Lock()

    def add_api_key(self, api_key: str, identity: Identity) -> None:
        self._api_keys[api_key] = identity

    def identity_for_api_key(self, api_key: str) -> Identity | None:
        return self._api_keys.get(api_key)

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token handed out so far (for leak checks in tests)."""
        with self._lock:
            return list(self._access_tokens) + list(self._refresh_tokens)

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired, as if an hour had passed for them."""
        with self._lock:
            for record in self._access_tokens.values():
                record.expires_at = self.clock.now() - 1

    def token(self, form: dict[str, str], client: tuple[str, str] | None) -> dict:
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise exceptions.property_missing("grant_type")
        if client is not None and self.KNOWN_CLIENTS.get(client[0]) != client[1]:
            raise exceptions.IAMError(400, "BXNIM0400E", "Client credentials are not valid.")
        if grant_type == self.APIKEY_GRANT:
            api_key = form.get("apikey", "")
            if not api_key:
                raise exceptions.property_missing("apikey")
            identity = self._api_keys.get(api_key)
            if identity is None:
                raise exceptions.api_key_not_found()
            return self._issue(
                identity,
                api_key,
                with_refresh=client is not None,
                grant_type=grant_type,
                client_id=client[0] if client else "default",
            )
        if grant_type == "refresh_token":
            if client is None:
                raise exceptions.IAMError(
                    400, "BXNIM0400E", "The refresh_token grant needs client credentials."
                )
            token = form.get("refresh_token", "")
            if not token:
                raise exceptions.property_missing("refresh_token")
            with self._lock:
                record = self._refresh_tokens.get(token)
            if record is None:
                raise exceptions.refresh_token_invalid()
            if record.expires_at <= self.clock.now():
                raise exceptions.refresh_token_expired()
            if record.api_key not in self._api_keys:
                raise exceptions.api_key_not_found()
            return self._issue(
                record.identity, record.api_key, with_refresh=True, grant_type=grant_type, client_id=client[0]
            )
        raise exceptions.unsupported_grant_type(grant_type)

    def _issue(
        self, identity: Identity, api_key: str, with_refresh: bool, grant_type: str, client_id: str
    ) -> dict:
        now = int(self.clock.now())
        expires_at = now + self.token_lifetime
        claims = {
            "iam_id": identity.iam_id,
            "id": identity.iam_id,
            "realmid": identity.iam_id.split("-", 1)[0],
            "jti": secrets.token_hex(16),
            "identifier": identity.iam_id.split("-", 1)[-1],
            "name": identity.name,
            "email": identity.email,
            "sub": identity.email,
            "sub_type": "ServiceId" if identity.iam_id.startswith("iam-ServiceId") else "Identity",
            "account": {"valid": True, "bss": identity.account_id},
            "iat": now,
            "exp": expires_at,
            "iss": self.issuer,
            "grant_type": grant_type,
            "scope": "ibm openid",
            "client_id": client_id,
        }
        access_token = self._sign(claims)
        answer = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "expiration": expires_at,
            "scope": "ibm openid",
            "refresh_token": "not_supported",
        }
        with self._lock:
            self._access_tokens[access_token] = _IssuedToken(identity, expires_at, api_key)
            if with_refresh:
                refresh_token = secrets.token_urlsafe(48)
                refresh_expires = now + self.refresh_lifetime
                self._refresh_tokens[refresh_token] = _IssuedToken(identity, refresh_expires, api_key)
                answer.update(refresh_token=refresh_token, refresh_token_expiration=refresh_expires)
        return answer

    def _sign(self, claims: dict) -> str:
        # HS256 with a throwaway key: clients never verify IAM's signature (the services do), so
        # the algorithm only has to produce a well-formed JWT. Real IAM signs RS256.
        header = {"kid": "fake-ibmcloud", "alg": "HS256", "typ": "JWT"}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def verify(self, access_token: str) -> Identity | None:
        """The identity of a valid, unexpired access token issued here; None otherwise."""
        with self._lock:
            record = self._access_tokens.get(access_token)
        if record is None or record.expires_at <= self.clock.now():
            return None
        if record.api_key not in self._api_keys:  # key deleted: its tokens stop working too
            return None
        return record.identity

    def refresh_token_identity(self, refresh_token: str) -> Identity | None:
        with self._lock:
            record = self._refresh_tokens.get(refresh_token)
        if record is None or record.expires_at <= self.clock.now():
            return None
        return record.identity


@dataclasses.dataclass
class Cluster:
    """A cluster as IBM Cloud Kubernetes Service knows it. `master_url`, `ca_pem` and the tokens
    point at the cluster that answers the Kubernetes API (the emulated one in tests)."""

    name: str
    account_id: str
    master_url: str
    ca_pem: str
    user_token: str
    admin_token: str
    type: str = "kubernetes"
    version: str = "1.33.5_1534"
    region: str = "us-south"
    resource_group_id: str = "c1c29ec1b4a74a4f8f3bbc6b8b4e2a93"
    resource_group_name: str = "default"
    ingress_hostname: str = ""
    ingress_secret: str = ""
    provider: str = "vpc-gen2"
    id: str = dataclasses.field(default_factory=_random_id)
    created: float = dataclasses.field(default_factory=time.time)

    def __post_init__(self):
        if self.type not in ("kubernetes", "openshift"):
            raise ValueError(f"cluster type must be 'kubernetes' or 'openshift', not {self.type!r}")
        suffix = "0000"
        if not self.ingress_hostname:
            self.ingress_hostname = (
                f"{self.name}-{self.id[:8]}-{suffix}.{self.region}.containers.appdomain.cloud"
            )
        if not self.ingress_secret:
            self.ingress_secret = f"{self.name}-{self.id[:8]}-{suffix}"

    @property
    def version_display(self) -> str:
        # ROKS reports the OpenShift version with an "_openshift" suffix.
        return (
            f"{self.version}_openshift"
            if self.type == "openshift" and "_openshift" not in self.version
            else self.version
        )

    def info(self) -> dict:
        """The v2 getCluster / getClusters item."""
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "resourceGroup": self.resource_group_id,
            "resourceGroupName": self.resource_group_name,
            "provider": self.provider,
            "type": self.type,
            "state": "normal",
            "status": "All Workers Normal",
            "masterKubeVersion": self.version_display,
            "masterURL": self.master_url,
            "serviceEndpoints": {
                "privateServiceEndpointEnabled": False,
                "privateServiceEndpointURL": "",
                "publicServiceEndpointEnabled": True,
                "publicServiceEndpointURL": self.master_url,
            },
            "ingress": {
                "hostname": self.ingress_hostname,
                "secretName": self.ingress_secret,
                "status": "healthy",
                "message": "",
            },
            "lifecycle": {"masterStatus": "Ready", "masterState": "deployed", "masterHealth": "normal"},
            "createdDate": _iso(self.created),
            "workerCount": 3,
            "location": f"{self.region}",
            "crn": f"crn:v1:bluemix:public:containers-kubernetes:{self.region}:a/{self.account_id}"
            f":{self.id}::",
        }


class KubernetesServiceBackend:
    """Clusters per account; lookup by name or id (optionally within a resource group); kubeconfig
    as `applyRBACAndGetKubeconfig` returns it; OpenShift's OAuth token for an API key."""

    def __init__(self, iam: IAMBackend):
        self.iam = iam
        self._clusters: dict[str, Cluster] = {}

    def add(self, cluster: Cluster) -> Cluster:
        self._clusters[cluster.id] = cluster
        return cluster

    def by_id(self, cluster_id: str) -> Cluster | None:
        return self._clusters.get(cluster_id)

    def list(self, identity: Identity, resource_group: str | None = None) -> list[Cluster]:
        return [
            cluster
            for cluster in self._clusters.values()
            if cluster.account_id == identity.account_id
            and resource_group in (None, "", cluster.resource_group_id, cluster.resource_group_name)
        ]

    def find(self, identity: Identity, name_or_id: str, resource_group: str | None = None) -> Cluster:
        for cluster in self.list(identity, resource_group):
            if name_or_id in (cluster.id, cluster.name):
                return cluster
        raise exceptions.cluster_not_found()

    def kubeconfig(self, identity: Identity, cluster: Cluster, admin: bool, refresh_token: str) -> dict:
        """The JSON kubeconfig. A user config authenticates by OIDC with an IAM id token (real IKS
        mints it from the caller's refresh token); here the "id token" is the token the emulated
        cluster accepts, because the emulated cluster does not validate IAM JWTs. An admin config
        in real IKS carries a client certificate; here it carries the emulated cluster's admin
        token, because the emulated cluster serves no client-certificate authentication."""
        if not admin and self.iam.refresh_token_identity(refresh_token) != identity:
            raise exceptions.bad_request(
                "A valid IAM refresh token is required in the X-Auth-Refresh-Token header."
            )
        cluster_entry = f"{cluster.name}/{cluster.id}"
        ca_data = base64.b64encode(cluster.ca_pem.encode()).decode() if cluster.ca_pem else ""
        cluster_fields = {"server": cluster.master_url}
        if ca_data:
            cluster_fields["certificate-authority-data"] = ca_data
        if admin:
            user_name = f"{cluster.name}/{cluster.id}/admin"
            user = {"token": cluster.admin_token}
        else:
            user_name = identity.email
            user = {
                "auth-provider": {
                    "name": "oidc",
                    "config": {
                        "client-id": "kube",
                        "client-secret": "kube",
                        "id-token": cluster.user_token,
                        "idp-issuer-url": self.iam.issuer,
                        "refresh-token": refresh_token,
                    },
                }
            }
        return {
            "kind": "Config",
            "apiVersion": "v1",
            "preferences": {},
            "clusters": [{"name": cluster_entry, "cluster": cluster_fields}],
            "users": [{"name": user_name, "user": user}],
            "contexts": [
                {
                    "name": cluster_entry,
                    "context": {"cluster": cluster_entry, "user": user_name, "namespace": "default"},
                }
            ],
            "current-context": cluster_entry,
        }

    def openshift_token(self, cluster: Cluster, username: str, password: str) -> str:
        """OpenShift on IBM Cloud's OAuth server takes user `apikey` with an IAM API key as the
        password and hands out an OpenShift access token for that user."""
        if cluster.type != "openshift":
            raise exceptions.OAuthError(404, "this cluster has no OpenShift OAuth server")
        identity = self.iam.identity_for_api_key(password) if username == "apikey" else None
        if identity is None or identity.account_id != cluster.account_id:
            raise exceptions.OAuthError(401, "The API key is not valid for this cluster.")
        return cluster.user_token


NAMESPACE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{2,28}[a-z0-9]$")


@dataclasses.dataclass
class RegistryNamespace:
    name: str
    account_id: str
    resource_group_id: str
    created: float


class RegistryBackend:
    """One region of IBM Cloud Container Registry: namespaces are unique within the region across
    all accounts; creating one you already own is a no-op answered 200, a new one 201."""

    def __init__(self, region: str, clock: Clock):
        self.region = region
        self.clock = clock
        self._namespaces: dict[str, RegistryNamespace] = {}
        self._lock = threading.Lock()

    def add(self, name: str, account_id: str, resource_group_id: str = "") -> RegistryNamespace:
        namespace = RegistryNamespace(name, account_id, resource_group_id, self.clock.now())
        self._namespaces[name] = namespace
        return namespace

    def names(self, account_id: str) -> list[str]:
        return sorted(n.name for n in self._namespaces.values() if n.account_id == account_id)

    def details(self, account_id: str) -> list[dict]:
        return [
            {
                "name": n.name,
                "account": n.account_id,
                "resource_group": n.resource_group_id,
                "created_date": _iso(n.created),
                "updated_date": _iso(n.created),
                "crn": f"crn:v1:bluemix:public:container-registry:{self.region}:a/{n.account_id}"
                f"::namespace:{n.name}",
            }
            for n in sorted(self._namespaces.values(), key=lambda n: n.name)
            if n.account_id == account_id
        ]

    def ensure(
        self, account_id: str, name: str, resource_group_id: str = ""
    ) -> tuple[RegistryNamespace, bool]:
        if not NAMESPACE_PATTERN.match(name):
            raise exceptions.namespace_invalid(name)
        with self._lock:
            existing = self._namespaces.get(name)
            if existing is not None:
                if existing.account_id != account_id:
                    raise exceptions.namespace_taken()
                return existing, False
            return self.add(name, account_id, resource_group_id), True


class FaultInjector:
    """Test control: the next N requests to a service (or to any) answer with a given status."""

    SERVICES = ("iam", "containers", "registry", "oauth")

    def __init__(self):
        self._pending: list[list] = []  # [service or None, status, remaining]
        self._lock = threading.Lock()

    def fail_next(self, count: int, status: int, service: str | None = None) -> None:
        if service is not None and service not in self.SERVICES:
            raise ValueError(f"service must be one of {self.SERVICES}, not {service!r}")
        if not (status == 429 or 500 <= status <= 599):
            raise ValueError(f"only 429 and 5xx can be injected, not {status}")
        with self._lock:
            self._pending.append([service, status, count])

    def take(self, service: str) -> int | None:
        with self._lock:
            for entry in self._pending:
                if entry[0] in (None, service) and entry[2] > 0:
                    entry[2] -= 1
                    status = entry[1]
                    self._pending = [e for e in self._pending if e[2] > 0]
                    return status
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(entry[2] for entry in self._pending)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
