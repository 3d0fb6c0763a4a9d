"""The IBM Cloud module_utils (IAM, Kubernetes Service, OpenShift OAuth, Container Registry,
retries) against the fake IBM Cloud over HTTPS."""

import base64

import pytest

from tests.ibmcloud_fixtures import FakeIBMCloud
from tests.playbook import use_project_module_utils

use_project_module_utils()  # the modules import their helpers as ansible.module_utils.<name>

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_clusters import (  # noqa: E402
    KubernetesService,
    OpenShiftOAuth,
    build_kubeconfig,
    cluster_facts,
    kubeconfig_parts,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_common import (  # noqa: E402
    IBMCloudError,
    Transport,
    resolve_endpoint,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_iam import IAMClient  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.ibmcloud_registry import (  # noqa: E402
    ContainerRegistry,
    registry_api_url,
    registry_host,
)


@pytest.fixture
def fake():
    with FakeIBMCloud() as cloud:
        yield cloud


def _transport(fake, delays=None, retries=4):
    recorded = delays if delays is not None else []
    return Transport(ca_cert=fake.ca_file, timeout=10, retries=retries, sleep=recorded.append)


def test_api_key_becomes_token_facts(fake):
    tokens = IAMClient(_transport(fake), fake.url, fake.api_key).current()
    facts = tokens.facts()
    assert facts["account_id"] == fake.account_id
    assert facts["iam_id"] == fake.identity.iam_id
    assert facts["expires_in"] == 3600 and facts["expires_at"].endswith("Z")
    assert tokens.refresh_token  # the CLI client gets one: the Kubernetes Service needs it


def test_rejected_key_fails_with_ibms_code_and_a_hint(fake):
    with pytest.raises(IBMCloudError) as caught:
        IAMClient(_transport(fake), fake.url, "not-a-key").current()
    error = caught.value
    assert (error.status, error.code) == (400, "BXNIM0415E")
    assert "Provided API key could not be found" in str(error) and "check api_key" in str(error)
    assert "not-a-key" not in str(error)


def test_429_and_5xx_are_retried_with_growing_backoff(fake):
    delays = []
    fake.fail_next(2, 429, "iam")
    fake.fail_next(1, 503, "iam")
    IAMClient(_transport(fake, delays), fake.url, fake.api_key).current()
    assert [r.status for r in fake.requests] == [429, 429, 503, 200]
    # Retry-After: 0 from the fake is honoured for 429; the 5xx gets exponential backoff (3rd try)
    assert delays == [0.0, 0.0, 2.0]


def test_retries_are_bounded_and_the_error_says_so(fake):
    fake.fail_next(10, 502, "iam")
    with pytest.raises(IBMCloudError) as caught:
        IAMClient(_transport(fake, retries=2), fake.url, fake.api_key).current()
    assert caught.value.status == 502
    assert "still failing after 3 attempts" in str(caught.value)
    assert len(fake.requests) == 3


def test_unreachable_endpoint_is_retried_then_named(fake):
    delays = []
    with pytest.raises(IBMCloudError) as caught:
        IAMClient(_transport(fake, delays, retries=1), "https://127.0.0.1:9", fake.api_key).current()
    assert "could not be reached after 2 attempts" in str(caught.value)
    assert delays == [0.5]


def test_untrusted_certificate_names_the_ca_option(fake):
    with pytest.raises(IBMCloudError) as caught:
        IAMClient(Transport(retries=0), fake.url, fake.api_key).current()
    assert "ca_cert" in str(caught.value)


def test_expired_token_is_refreshed_once_on_401(fake):
    fake.add_cluster("dev")
    iam = IAMClient(_transport(fake), fake.url, fake.api_key)
    service = KubernetesService(iam, fake.url)
    assert service.get_cluster("dev")["name"] == "dev"
    fake.expire_access_tokens()
    assert service.get_cluster("dev")["name"] == "dev"
    assert [(r.service, r.status) for r in fake.requests] == [
        ("iam", 200), ("containers", 200), ("containers", 401), ("iam", 200), ("containers", 200)
    ]


def test_unknown_cluster_lists_what_the_key_can_see(fake):
    fake.add_cluster("dev")
    fake.add_cluster("prod", type="openshift")
    fake.add_cluster("someone-elses", other_account=True)
    service = KubernetesService(IAMClient(_transport(fake), fake.url, fake.api_key), fake.url)
    with pytest.raises(IBMCloudError) as caught:
        service.get_cluster("staging")
    message = str(caught.value)
    assert "Cluster 'staging' was not found" in message and "G0004" in message
    assert "dev (" in message and "prod (" in message and "openshift" in message
    assert "someone-elses" not in message


def test_region_and_resource_group_narrow_the_lookup(fake):
    cluster = fake.add_cluster("dev", region="eu-de")
    iam = IAMClient(_transport(fake), fake.url, fake.api_key)
    assert KubernetesService(iam, fake.url).get_cluster("dev", region="eu-de")["id"] == cluster.id
    with pytest.raises(IBMCloudError, match="region us-south"):
        KubernetesService(iam, fake.url).get_cluster("dev", region="us-south")
    with pytest.raises(IBMCloudError, match="resource group elsewhere"):
        KubernetesService(iam, fake.url, resource_group="elsewhere").get_cluster("dev")


def test_iks_kubeconfig_uses_the_id_token_as_bearer(fake):
    cluster = fake.add_cluster("dev")
    service = KubernetesService(IAMClient(_transport(fake), fake.url, fake.api_key), fake.url)
    facts = cluster_facts(service.get_cluster("dev"))
    assert facts["type"] == "kubernetes" and facts["ingress_hostname"] == cluster.ingress_hostname
    assert facts["ingress_secret"] == cluster.ingress_secret and facts["master_url"] == fake.target.url
    server, ca_pem, token = kubeconfig_parts(service.raw_kubeconfig(cluster.id, admin=False))
    assert (server, ca_pem, token) == (fake.target.url, None, fake.target.token)
    _, _, admin_token = kubeconfig_parts(service.raw_kubeconfig(cluster.id, admin=True))
    assert admin_token == fake.target.admin_token


def test_openshift_token_via_discovered_oauth_server(fake):
    # A ROKS cluster whose master URL serves the OAuth metadata: here the fake itself.
    cluster = fake.add_cluster("roks", type="openshift", ca_pem=fake.ca_pem)
    cluster.master_url = fake.openshift_oauth_endpoint(cluster)
    oauth = OpenShiftOAuth(_transport(fake), fake.api_key)
    endpoint = oauth.authorize_endpoint(cluster.master_url, fake.ca_pem)
    assert endpoint == fake.openshift_oauth_endpoint(cluster) + "/oauth/authorize"
    assert oauth.token(endpoint) == (fake.target.token, 86400)
    with pytest.raises(IBMCloudError, match="refused the API key"):
        OpenShiftOAuth(_transport(fake), fake.other_api_key).token(endpoint)


def test_build_kubeconfig_is_kubectl_shaped():
    config = build_kubeconfig("dev", "https://127.0.0.1:6443", "PEM", "tok", namespace="ci")
    assert config["current-context"] == "dev"
    assert config["contexts"][0]["context"] == {"cluster": "dev", "user": "dev-user", "namespace": "ci"}
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]) == b"PEM"
    assert kubeconfig_parts(config) == ("https://127.0.0.1:6443", "PEM", "tok")


@pytest.mark.parametrize("value", ["iam.cloud.ibm.com", "ftp://127.0.0.1", "https://"])
def test_bad_endpoint_is_one_sentence_naming_the_option(value):
    with pytest.raises(IBMCloudError, match="Option iam_endpoint is .* not an http"):
        resolve_endpoint(value, "https://iam.cloud.ibm.com", "iam_endpoint")


def test_endpoint_suffix_and_slash_are_normalised():
    assert resolve_endpoint("https://127.0.0.1:1/global/", "x", "cs_endpoint", strip_suffix="/global") \
        == "https://127.0.0.1:1"


# --- Container Registry ---------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "host"), [
    ("us-south", "us.icr.io"), ("eu-de", "de.icr.io"), ("eu-central", "de.icr.io"), ("eu-gb", "uk.icr.io"),
    ("jp-tok", "jp.icr.io"), ("jp-osa", "jp2.icr.io"), ("au-syd", "au.icr.io"), ("ca-tor", "ca.icr.io"),
    ("br-sao", "br.icr.io"), ("eu-es", "es.icr.io"), ("global", "icr.io"), ("US-South", "us.icr.io"),
])
def test_registry_host_per_region(region, host):
    assert registry_host(region) == host
    assert registry_api_url(region) == "https://" + host


def test_unknown_registry_region_lists_the_known_ones():
    with pytest.raises(IBMCloudError, match="Registry region 'mars-1' is not known; use one of .*us-south"):
        registry_host("mars-1")
    assert registry_api_url("mars-1", "https://127.0.0.1:5000/") == "https://127.0.0.1:5000"


def _registry(fake, api_key=None):
    iam = IAMClient(_transport(fake), fake.url, api_key or fake.api_key)
    return ContainerRegistry(iam, fake.url, iam.current().account_id)


def test_namespace_is_created_once_then_left_alone(fake):
    registry = _registry(fake)
    assert registry.ensure_namespace("tekton-cd", check_mode=True) is True
    assert registry.namespaces() == []  # check mode wrote nothing
    assert registry.ensure_namespace("tekton-cd") is True
    assert registry.ensure_namespace("tekton-cd") is False
    assert registry.namespaces() == ["tekton-cd"]
    puts = [r for r in fake.requests if r.method == "PUT"]
    assert [r.status for r in puts] == [201]


def test_existing_namespace_needs_no_write(fake):
    fake.add_registry_namespace("health")
    assert _registry(fake).ensure_namespace("health") is False
    assert not [r for r in fake.requests if r.method == "PUT"]


def test_namespace_of_another_account_is_a_clear_conflict(fake):
    fake.add_registry_namespace("taken", other_account=True)
    with pytest.raises(IBMCloudError, match="unique per region across all IBM Cloud accounts") as caught:
        _registry(fake).ensure_namespace("taken")
    assert caught.value.status == 409


def test_invalid_namespace_name_fails_before_any_call(fake):
    with pytest.raises(IBMCloudError, match="'Bad_Name' is not valid"):
        _registry(fake).ensure_namespace("Bad_Name")
    assert [r.service for r in fake.requests] == ["iam"]


def test_registry_calls_are_retried(fake):
    fake.fail_next(2, 503, "registry")
    assert _registry(fake).ensure_namespace("retried") is True
    assert [r.status for r in fake.requests if r.service == "registry"] == [503, 503, 200, 201]
