"""Authentication and tokens: the admin token, TokenRequest tokens of ServiceAccounts (JWT-shaped,
expiring, audience-bound, tied to the account's uid) and static user tokens (like a token file),
and which identity a bearer token stands for."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from emulator.kube import exceptions
from emulator.kube.context import ADMIN, RequestContext
from emulator.kube.exceptions import FieldError
from emulator.kube.rbac import Identity
from emulator.kube.storage import Clock, Store

API_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600


@dataclass
class IssuedToken:
    identity: Identity
    expires: datetime.datetime
    audiences: tuple[str, ...]
    sa_key: tuple[str, str] | None = None
    sa_uid: str = ""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenAuthority:
    def __init__(self, store: Store, clock: Clock, admin_token: str):
        self.store = store
        self.clock = clock
        self.admin_token = admin_token
        self.tokens: dict[str, IssuedToken] = {}
        self._signing_key = secrets.token_bytes(32)
        self._key_id = b64url(hashlib.sha256(self._signing_key).digest()[:24])

    def _service_account(self, namespace: str, name: str) -> dict | None:
        return self.store.find(self.store.registry.get("", "v1", "serviceaccounts"), namespace, name)

    def request_token(self, namespace: str, name: str, body: dict, ctx: RequestContext) -> dict:
        """POST serviceaccounts/NAME/token: a TokenRequest answered with a signed, expiring token."""
        account = self._service_account(namespace, name)
        if account is None:
            raise exceptions.not_found("serviceaccounts", "", name)
        spec = dict((body or {}).get("spec") or {})
        seconds = spec.get("expirationSeconds")
        if seconds is None:  # absent or null: the server default
            seconds = DEFAULT_EXPIRATION_SECONDS
        if not isinstance(seconds, int) or seconds < MIN_EXPIRATION_SECONDS:
            raise exceptions.invalid(
                "TokenRequest",
                "authentication.k8s.io",
                "",
                [
                    FieldError.invalid(
                        "spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes"
                    )
                ],
            )
        if seconds > 2**32:
            raise exceptions.invalid(
                "TokenRequest",
                "authentication.k8s.io",
                "",
                [
                    FieldError.invalid(
                        "spec.expirationSeconds",
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                ],
            )
        audiences = spec.get("audiences") or list(API_AUDIENCES)
        now = self.clock.now().replace(microsecond=0)
        expires = now + datetime.timedelta(seconds=seconds)
        uid = account["metadata"]["uid"]
        claims = {
            "aud": audiences,
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "iss": API_AUDIENCES[0],
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            "nbf": int(now.timestamp()),
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        token = self._sign(claims)
        if not ctx.dry_run:
            self.tokens[token] = IssuedToken(
                Identity.service_account(namespace, name, uid),
                expires,
                tuple(audiences),
                (namespace, name),
                uid,
            )
        managed = []
        if spec.get("expirationSeconds") is not None:
            managed = [
                {
                    "manager": ctx.manager,
                    "operation": "Update",
                    "apiVersion": "authentication.k8s.io/v1",
                    "time": self.clock.stamp(),
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:expirationSeconds": {}}},
                    "subresource": "token",
                }
            ]
        metadata = {"name": name, "namespace": namespace, "creationTimestamp": self.clock.stamp()}
        if managed:
            metadata["managedFields"] = managed
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": metadata,
            "spec": {
                "audiences": audiences,
                "expirationSeconds": seconds,
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
        }

    def _sign(self, claims: dict) -> str:
        header = b64url(json.dumps({"alg": "RS256", "kid": self._key_id}, separators=(",", ":")).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = b64url(
            hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        return f"{header}.{payload}.{signature}"

    def authenticate(self, token: str | None) -> Identity | None:
        """The identity behind a bearer token; None when the token is not (or no longer) valid."""
        if token is None:
            return None
        if hmac.compare_digest(token, self.admin_token):
            return ADMIN
        issued = self.tokens.get(token)
        if issued is None:
            return None
        if self.clock.now() >= issued.expires:
            return None
        if not set(issued.audiences) & set(API_AUDIENCES):
            return None
        if issued.sa_key is not None:
            account = self._service_account(*issued.sa_key)
            if account is None or account["metadata"]["uid"] != issued.sa_uid:
                return None
        return issued.identity

    def add_static_token(self, token: str, user: str, groups: list[str] | None = None) -> None:
        """A never-expiring token for a plain user identity (like --token-auth-file)."""
        groups = list(groups or []) + ["system:authenticated"]
        self.tokens[token] = IssuedToken(
            Identity(user, groups), datetime.datetime.max.replace(tzinfo=datetime.UTC), API_AUDIENCES
        )
