#!/usr/bin/python
"""Ansible module ibmcloud_auth: an IBM Cloud API key → IAM access token, account and expiry."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ibmcloud_auth
short_description: Exchange an IBM Cloud API key for an IAM access token
description:
  - Calls the IBM Cloud IAM token endpoint (C(POST /identity/token), API key grant) and returns the
    account id, the IAM id and the expiry of the issued access token.
  - The access token itself is returned only when the task sets C(no_log=true), so that it never
    reaches task output or logs; without C(no_log) the module warns and leaves it out.
  - Read-only; supports check mode (the token is requested in check mode too).
  - Retries 429, 5xx and dropped connections with exponential backoff, at most O(retries) times.
version_added: "0.1.0"
extends_documentation_fragment:
  - tekton_cd.pipeline.ibmcloud_connection
notes:
  - Uses the Python library C(requests) on the controller.
  - See docs/ibmcloud.md for endpoints, private endpoints and how secrets are kept out of output.
author:
  - tekton-cd maintainers
"""

EXAMPLES = r"""
- name: Log in to IBM Cloud with the API key from IC_API_KEY
  tekton_cd.pipeline.ibmcloud_auth:
  register: ibmcloud_login

- name: Show the account the key belongs to
  ansible.builtin.debug:
    msg: "Account {{ ibmcloud_login.account_id }}, token valid until {{ ibmcloud_login.expires_at }}"

- name: Get an access token for later API calls (kept out of the output)
  tekton_cd.pipeline.ibmcloud_auth:
    api_key: "{{ vault_ibmcloud_api_key }}"
    iam_endpoint: https://private.iam.cloud.ibm.com
  no_log: true
  register: ibmcloud_token
"""

RETURN = r"""
account_id:
  description: The IBM Cloud account the API key belongs to (the token's C(account.bss) claim).
  returned: success
  type: str
  sample: 0a1b2c3d4e5f60718293a4b5c6d7e8f9
iam_id:
  description: IAM id of the key's owner (C(IBMid-...) for users, C(iam-ServiceId-...) for service IDs).
  returned: success
  type: str
  sample: IBMid-550001ABCD
token_type:
  description: Token type, C(Bearer).
  returned: success
  type: str
expiration:
  description: Expiry of the access token, seconds since the epoch.
  returned: success
  type: int
  sample: 1764219600
expires_at:
  description: Expiry of the access token, ISO 8601 UTC.
  returned: success
  type: str
  sample: "2026-11-27T05:00:00Z"
expires_in:
  description: Lifetime of the access token in seconds as IAM reported it.
  returned: success
  type: int
  sample: 3600
access_token:
  description: The IAM access token (a JWT). Only when the task has C(no_log=true).
  returned: success and the task is no_log
  type: str
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (  # noqa: E402
    COMMON_ARGUMENT_SPEC,
    DEFAULT_IAM_ENDPOINT,
    require_api_key,
    resolve_endpoint,
    transport_from_params,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_iam import IAMClient  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import ModuleDeclaration  # noqa: E402


def ensure(params, check_mode):
    endpoint = resolve_endpoint(params["iam_endpoint"], DEFAULT_IAM_ENDPOINT, "iam_endpoint")
    tokens = IAMClient(transport_from_params(params), endpoint, require_api_key(params)).current()
    return {"changed": False, **tokens.facts(), "access_token": tokens.access_token}


MODULE = ModuleDeclaration(COMMON_ARGUMENT_SPEC, ensure, kube_connection=False,
                           secret_results={"access_token": "access token"})


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
