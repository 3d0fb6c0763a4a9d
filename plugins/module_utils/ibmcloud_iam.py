"""IAM: an API key becomes an access token (POST /identity/token, apikey grant, form-encoded).

The access token is a JWT whose claims name the account (`account.bss`), the identity (`iam_id`)
and the expiry (`exp`). Its signature is not checked here: the services that receive it check it;
we only read which account and identity the key belongs to.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import IBMCloudError
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import jwt_claims

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
# IAM hands refresh tokens (needed by the Kubernetes Service to mint a cluster id token) only to a
# client that authenticates; "bx"/"bx" is the IBM Cloud CLI's public client, as the CLI and
# IBM's Terraform provider use.
CLI_CLIENT = ("bx", "bx")
REFRESH_MARGIN = 60  # seconds: a token this close to expiry is refreshed before use


class TokenSet:
    def __init__(self, answer):
        self.access_token = answer.get("access_token", "")
        refresh = answer.get("refresh_token")
        self.refresh_token = refresh if refresh and refresh != "not_supported" else None
        self.token_type = answer.get("token_type", "Bearer")
        self.claims = jwt_claims(self.access_token)
        self.expiration = int(answer.get("expiration") or self.claims.get("exp") or 0)
        self.expires_in = int(answer.get("expires_in") or 0)

    @property
    def account_id(self):
        return (self.claims.get("account") or {}).get("bss")

    @property
    def iam_id(self):
        return self.claims.get("iam_id")

    def expires_soon(self, now=None):
        return self.expiration - (now or time.time()) < REFRESH_MARGIN

    def facts(self):
        """What may be shown: no token values."""
        return {
            "account_id": self.account_id,
            "iam_id": self.iam_id,
            "token_type": self.token_type,
            "expiration": self.expiration,
            "expires_at": datetime.datetime.fromtimestamp(self.expiration, datetime.UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires_in": self.expires_in,
        }


class IAMClient:
    """Gets, caches and refreshes the tokens for one API key."""

    def __init__(self, transport, endpoint, api_key):
        self.transport = transport
        self.url = endpoint + "/identity/token"
        self.api_key = api_key
        self.tokens = None

    def current(self):
        """A token set valid for at least REFRESH_MARGIN seconds."""
        if self.tokens is None:
            self.tokens = self._token({"grant_type": APIKEY_GRANT, "apikey": self.api_key})
        elif self.tokens.expires_soon():
            self.refresh()
        return self.tokens

    def refresh(self):
        """New tokens after expiry or a 401: by refresh token when there is one, else by API key."""
        if self.tokens is not None and self.tokens.refresh_token:
            try:
                self.tokens = self._token(
                    {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}
                )
                return self.tokens
            except IBMCloudError as error:
                if error.status != 400:  # an invalid/expired refresh token: fall back to the key
                    raise
        self.tokens = self._token({"grant_type": APIKEY_GRANT, "apikey": self.api_key})
        return self.tokens

    def _token(self, form):
        response = self.transport.request(
            "POST", self.url, "IAM token request to " + self.url,
            data=form, auth=CLI_CLIENT, headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            hint = None
            if form["grant_type"] == APIKEY_GRANT and response.status_code in (400, 401, 403):
                hint = ("the API key was rejected; check api_key (or IC_API_KEY / IBMCLOUD_API_KEY) "
                        "and that the key is not deleted or locked")
            raise self.transport.error("IAM token request to " + self.url, response, hint)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not answer.get("access_token"):
            raise IBMCloudError(f"IAM token request to {self.url} answered without an access_token",
                                status=response.status_code,
                                hint="check that iam_endpoint points at IBM Cloud IAM")
        return TokenSet(answer)

    def authorized(self, method, url, what, headers=None, send_refresh_token=False, **kwargs):
        """A service call with the bearer token; one refresh and retry if the service says 401.
        Only the Kubernetes Service needs the refresh token too (`send_refresh_token`)."""
        for attempt in (1, 2):
            tokens = self.current()
            all_headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}
            if send_refresh_token and tokens.refresh_token:
                all_headers["X-Auth-Refresh-Token"] = tokens.refresh_token
            all_headers.update(headers or {})
            response = self.transport.request(method, url, what, headers=all_headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self.refresh()
                continue
            return response
        return response
