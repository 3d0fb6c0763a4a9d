"""Documentation of the IBM Cloud options in plugins/module_utils/ibmcloud_common.py.

Modules whose argument spec starts from ``COMMON_ARGUMENT_SPEC`` pull it in with
``extends_documentation_fragment: [ibmcloud_connection]``; tests/unit/test_module_docs.py checks
that the documented options and the spec agree.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - IBM Cloud API key (a user's or a service ID's).
      - Defaults to the environment variable E(IC_API_KEY), then E(IBMCLOUD_API_KEY).
    type: str
  iam_endpoint:
    description:
      - Base URL of IBM Cloud IAM, without C(/identity/token); for example the private endpoint
        C(https://private.iam.cloud.ibm.com).
      - Defaults to E(IBMCLOUD_IAM_API_ENDPOINT), then C(https://iam.cloud.ibm.com).
    type: str
  validate_certs:
    description: Verify the TLS certificates of the IBM Cloud endpoints.
    type: bool
    default: true
  ca_cert:
    description:
      - CA bundle (PEM file) that signed the IBM Cloud endpoints' certificates, for endpoints whose
        certificates the system store does not trust. Defaults to E(IBMCLOUD_CA_CERT).
    type: path
  timeout:
    description: Seconds to wait for each HTTP answer.
    type: int
    default: 30
  retries:
    description: How many times a call answered 429 or 5xx (or cut off) is retried, with backoff.
    type: int
    default: 4
"""
