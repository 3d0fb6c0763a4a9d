"""Rules of the fake IBM Cloud, checked on the models (no socket) and over HTTP where the shape of
the answer is the point."""

import base64
import json

import pytest
import requests

from emulator.ibmcloud import exceptions, models
from tests.ibmcloud_fixtures import FakeIBMCloud

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def _claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def iam():
    backend = models.IAMBackend(models.Clock())
    backend.add_api_key("good-key", models.Identity("IBMid-1234", "acct1"))
    return backend


def test_iam_issues_a_jwt_naming_account_identity_and_expiry(iam):
    answer = iam.token({"grant_type": APIKEY_GRANT, "apikey": "good-key"}, ("bx", "bx"))
    claims = _claims(answer["access_token"])
    assert claims["account"]["bss"] == "acct1"
    assert claims["iam_id"] == "IBMid-1234"
    assert claims["exp"] == answer["expiration"] == claims["iat"] + 3600
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert answer["refresh_token"] != "not_supported"
    assert iam.verify(answer["access_token"]).account_id == "acct1"


def test_iam_gives_no_refresh_token_to_an_anonymous_client(iam):
    answer = iam.token({"grant_type": APIKEY_GRANT, "apikey": "good-key"}, None)
    assert answer["refresh_token"] == "not_supported"


def test_iam_rejects_an_unknown_key_with_ibms_code(iam):
    with pytest.raises(exceptions.IAMError) as caught:
        iam.token({"grant_type": APIKEY_GRANT, "apikey": "bad-key"}, None)
    assert (caught.value.status, caught.value.code) == (400, "BXNIM0415E")
    body = caught.value.body("https://127.0.0.1:1")
    assert body["errorMessage"] == "Provided API key could not be found."
    assert body["context"]["requestId"]


def test_expired_access_token_stops_verifying_and_refresh_gives_a_new_one(iam):
    first = iam.token({"grant_type": APIKEY_GRANT, "apikey": "good-key"}, ("bx", "bx"))
    iam.expire_access_tokens()
    assert iam.verify(first["access_token"]) is None
    second = iam.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, ("bx", "bx"))
    assert iam.verify(second["access_token"]).iam_id == "IBMid-1234"


def test_expired_refresh_token_is_refused(iam):
    first = iam.token({"grant_type": APIKEY_GRANT, "apikey": "good-key"}, ("bx", "bx"))
    iam.clock.advance(31 * 24 * 3600)
    with pytest.raises(exceptions.IAMError) as caught:
        iam.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, ("bx", "bx"))
    assert caught.value.code == "BXNIM0408E"


def test_tokens_expire_with_the_clock(iam):
    answer = iam.token({"grant_type": APIKEY_GRANT, "apikey": "good-key"}, None)
    iam.clock.advance(3601)
    assert iam.verify(answer["access_token"]) is None


def _cluster(name, account, **fields):
    return models.Cluster(name=name, account_id=account, master_url="https://127.0.0.1:1", ca_pem="CA",
                          user_token="user-token", admin_token="admin-token", **fields)


def test_clusters_are_found_by_name_or_id_only_in_their_account(iam):
    service = models.KubernetesServiceBackend(iam)
    mine = service.add(_cluster("dev", "acct1"))
    service.add(_cluster("theirs", "acct2"))
    me = models.Identity("IBMid-1234", "acct1")
    assert service.find(me, "dev") is mine
    assert service.find(me, mine.id) is mine
    with pytest.raises(exceptions.KubernetesServiceError) as caught:
        service.find(me, "theirs")
    assert (caught.value.status, caught.value.code) == (404, "G0004")
    assert [c.name for c in service.list(me)] == ["dev"]
    assert service.list(me, resource_group="other-group") == []


def test_user_kubeconfig_needs_the_callers_refresh_token(iam):
    service = models.KubernetesServiceBackend(iam)
    cluster = service.add(_cluster("dev", "acct1"))
    answer = iam.token({"grant_type": APIKEY_GRANT, "apikey": "good-key"}, ("bx", "bx"))
    me = iam.verify(answer["access_token"])
    with pytest.raises(exceptions.KubernetesServiceError):
        service.kubeconfig(me, cluster, admin=False, refresh_token="")
    config = service.kubeconfig(me, cluster, admin=False, refresh_token=answer["refresh_token"])
    provider = config["users"][0]["user"]["auth-provider"]
    assert provider["name"] == "oidc" and provider["config"]["id-token"] == "user-token"
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]) == b"CA"
    admin = service.kubeconfig(me, cluster, admin=True, refresh_token="")
    assert admin["users"][0]["user"] == {"token": "admin-token"}


def test_openshift_oauth_takes_user_apikey_with_a_key_of_the_clusters_account(iam):
    service = models.KubernetesServiceBackend(iam)
    cluster = service.add(_cluster("roks", "acct1", type="openshift"))
    assert service.openshift_token(cluster, "apikey", "good-key") == "user-token"
    for user, password in (("apikey", "bad-key"), ("someone", "good-key")):
        with pytest.raises(exceptions.OAuthError):
            service.openshift_token(cluster, user, password)
    with pytest.raises(ValueError):
        _cluster("x", "acct1", type="swarm")


def test_registry_namespaces_are_idempotent_unique_and_validated():
    registry = models.RegistryBackend("us-south", models.Clock())
    assert registry.ensure("acct1", "team-a")[1] is True
    assert registry.ensure("acct1", "team-a")[1] is False
    with pytest.raises(exceptions.RegistryError) as taken:
        registry.ensure("acct2", "team-a")
    assert taken.value.status == 409
    for bad in ("ab", "Team-A", "-team", "x" * 31):
        with pytest.raises(exceptions.RegistryError) as invalid:
            registry.ensure("acct1", bad)
        assert invalid.value.status == 400
    assert registry.names("acct1") == ["team-a"] and registry.names("acct2") == []


def test_fault_injector_counts_down_per_service():
    faults = models.FaultInjector()
    faults.fail_next(2, 429, "iam")
    faults.fail_next(1, 503)
    assert faults.take("containers") == 503
    assert [faults.take("iam"), faults.take("iam"), faults.take("iam")] == [429, 429, None]
    with pytest.raises(ValueError):
        faults.fail_next(1, 404)


def test_http_answers_carry_ibms_shapes_and_injected_faults():
    with FakeIBMCloud() as fake:
        fake.add_cluster("dev")
        token_url = fake.url + "/identity/token"
        bad = requests.post(token_url, data={"grant_type": APIKEY_GRANT, "apikey": "nope"},
                            verify=fake.ca_file, timeout=10)
        assert bad.status_code == 400 and bad.json()["errorCode"] == "BXNIM0415E"
        good = requests.post(token_url, data={"grant_type": APIKEY_GRANT, "apikey": fake.api_key},
                             verify=fake.ca_file, timeout=10).json()
        headers = {"Authorization": "Bearer " + good["access_token"]}
        listed = requests.get(fake.url + "/global/v2/getClusters", headers=headers, verify=fake.ca_file,
                              timeout=10).json()
        assert [c["name"] for c in listed] == ["dev"]
        assert {"id", "name", "type", "masterKubeVersion", "masterURL", "ingress", "serviceEndpoints",
                "region", "resourceGroup"} <= set(listed[0])
        fake.fail_next(1, 429, "containers")
        limited = requests.get(fake.url + "/global/v2/getClusters", headers=headers, verify=fake.ca_file,
                               timeout=10)
        assert limited.status_code == 429 and "Retry-After" in limited.headers
        unauthenticated = requests.get(fake.url + "/global/v2/getClusters", verify=fake.ca_file, timeout=10)
        assert unauthenticated.status_code == 401 and unauthenticated.json()["type"] == "Authentication"
        assert [r.status for r in fake.requests] == [400, 200, 200, 429, 401]


def test_writes_since_reset_as_the_emulated_cluster_answers_it():
    """The fake's controls: the same "writes since reset" query and reset as the emulated cluster's,
    in process and over HTTP (with the fake's control token only). A token grant is a query."""
    with FakeIBMCloud() as fake:
        session = requests.Session()
        session.trust_env = False
        session.verify = fake.ca_file
        token = session.post(
            fake.url + "/identity/token",
            data={"grant_type": APIKEY_GRANT, "apikey": fake.api_key},
            timeout=10,
        ).json()["access_token"]
        session.get(fake.url + "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        made = session.put(
            fake.url + "/api/v1/namespaces/ours", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        refused = session.put(
            fake.url + "/api/v1/namespaces/ours", headers={"Authorization": "Bearer nope"}, timeout=10
        )
        assert (made.status_code, refused.status_code) == (201, 401)
        user = fake.identity.iam_id
        report = {
            "count": 2,
            "writes": [
                {"method": "POST", "path": "/identity/token", "user": user, "status": 200, "kind": "query"},
                {
                    "method": "PUT",
                    "path": "/api/v1/namespaces/ours",
                    "user": user,
                    "status": 201,
                    "kind": "write",
                },
                {
                    "method": "PUT",
                    "path": "/api/v1/namespaces/ours",
                    "user": "",
                    "status": 401,
                    "kind": "write",
                },
            ],
        }
        assert fake.controls.writes_since_reset() == report
        control = {"Authorization": f"Bearer {fake.control_token}"}
        assert (
            session.get(fake.url + "/_emulator/writes-since-reset", headers=control, timeout=10).json()
            == report
        )
        for credential in ({}, {"Authorization": f"Bearer {token}"}):
            assert (
                session.get(
                    fake.url + "/_emulator/writes-since-reset", headers=credential, timeout=10
                ).status_code
                == 401
            )
        fake.fail_next(1, 503, "registry")
        assert session.post(fake.url + "/_emulator/reset", headers=control, timeout=10).json() == {"ok": True}
        assert fake.controls.writes_since_reset() == {"count": 0, "writes": []}
        assert fake.requests == [] and fake.faults.pending() == 0  # the control requests are not logged
