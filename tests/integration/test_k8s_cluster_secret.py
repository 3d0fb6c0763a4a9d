"""k8s_cluster_secret against the cluster fixture (emulated, or real with TEST_KUBECONFIG).

Playbook runs show what users see (changed, warnings, no token in any output); in-process calls of
the module's handler let a test move the controller's clock to just before the token's expiry.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json

import pytest
import yaml

from tests.integration.support import persisted_writes
from tests.playbook import load_module, run_tasks

MODULE = "k8s_cluster_secret"


@pytest.fixture
def core(cluster):
    from kubernetes import client

    return client.CoreV1Api(cluster.api_client())


@pytest.fixture
def account(cluster, namespace, core):
    """A service account 'deployer' in a fresh namespace."""
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "deployer"}})
    return namespace


def secret_task(namespace, **options):
    return {"name": "credential", MODULE: {"name": "deployer-kubeconfig", "namespace": namespace,
                                            "service_account": "deployer", **options}}


def stored(core, namespace, name="deployer-kubeconfig"):
    from kubernetes.client.rest import ApiException

    try:
        secret = core.read_namespaced_secret(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    data = {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}
    return {"data": data, "resourceVersion": secret.metadata.resource_version,
            "annotations": secret.metadata.annotations or {}}


def emulator_controls(cluster, request):
    """The emulator's request log, emptied; None on a real cluster (no such log there)."""
    return request.getfixturevalue("emulator").controls if cluster.is_emulated else None


def token_requests(controls):
    return [path for verb, path, _query in controls.requests() if verb == "POST" and path.endswith("/token")]


def fingerprint(token):
    """Compare tokens by digest, so that a failing assertion never prints one."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def assert_token_never_shown(play, token):
    recorded = json.dumps([task.result for task in play.tasks])
    for text in (play.stdout, play.stderr, recorded):
        assert token not in text
        assert base64.b64encode(token.encode()).decode() not in text


def whoami(cluster, kubeconfig_dict):
    """The user name the API server authenticates a kubeconfig as (SelfSubjectReview)."""
    from kubernetes import client, config

    api = config.new_client_from_config_dict(kubeconfig_dict)
    answer = client.AuthenticationV1Api(api).create_self_subject_review(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return answer.status.user_info.username


def test_creates_a_secret_whose_kubeconfig_authenticates_as_the_service_account(cluster, account, core,
                                                                                 tmp_path):
    play = run_tasks([secret_task(account, target_namespace="health")], tmp_path=tmp_path,
                     kubeconfig=cluster.kubeconfig_path, diff=True, verbosity=3)
    assert play.rc == 0, play.stdout
    task = play.task("credential")
    assert task.changed and task.result["token"]["issued"]
    assert task.result["result"]["data"] == {key: "<hidden>" for key in ("kubeconfig", "token", "namespace",
                                                                         "ca.crt")}
    secret = stored(core, account)
    token = secret["data"]["token"]
    assert_token_never_shown(play, token)
    assert claims_of(token)["sub"] == f"system:serviceaccount:{account}:deployer"
    assert secret["data"]["namespace"] == "health"
    assert secret["data"]["ca.crt"].strip() == cluster.ca_pem.strip()
    kubeconfig = yaml.safe_load(secret["data"]["kubeconfig"])
    context = kubeconfig["contexts"][0]["context"]
    assert context["namespace"] == "health"
    assert kubeconfig["current-context"] == kubeconfig["contexts"][0]["name"]
    assert fingerprint(kubeconfig["users"][0]["user"]["token"]) == fingerprint(token)
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster.server.rstrip("/")
    assert whoami(cluster, kubeconfig) == f"system:serviceaccount:{account}:deployer"


def test_second_run_changes_nothing_and_writes_nothing(cluster, account, core, tmp_path, request):
    first = run_tasks([secret_task(account)], tmp_path=tmp_path / "1", kubeconfig=cluster.kubeconfig_path)
    assert first.rc == 0 and first.task("credential").changed, first.stdout
    before = stored(core, account)
    controls = emulator_controls(cluster, request)
    second = run_tasks([secret_task(account)], tmp_path=tmp_path / "2", kubeconfig=cluster.kubeconfig_path)
    assert second.rc == 0, second.stdout
    task = second.task("credential")
    assert not task.changed and not task.result["token"]["issued"]
    assert "valid for another" in task.result["token"]["reason"]
    assert stored(core, account) == before
    if controls is not None:
        assert controls.writes() == []


def handler_params(cluster, namespace, **options):
    module = load_module(MODULE)  # first: it makes the collection's module_utils importable
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import with_connection_args

    params = {name: spec.get("default") for name, spec in with_connection_args(module.ARGUMENT_SPEC).items()}
    params.update({"kubeconfig": str(cluster.kubeconfig_path), "name": "deployer-kubeconfig",
                   "namespace": namespace, "service_account": "deployer", **options})
    return module, params


def test_token_is_reissued_when_its_remaining_lifetime_drops_under_the_threshold(cluster, account, core,
                                                                                 monkeypatch, request):
    module, params = handler_params(cluster, account, token_lifetime=3600, refresh_before=600)
    assert module.ensure(params, False)["token"]["issued"]
    first = stored(core, account)
    expiry = claims_of(first["data"]["token"])["exp"]

    def at(seconds_before_expiry):
        moment = datetime.datetime.fromtimestamp(expiry - seconds_before_expiry, datetime.UTC)
        monkeypatch.setattr(module, "utc_now", lambda: moment)

    at(601)  # still above the threshold: kept
    kept = module.ensure(params, False)
    assert not kept["changed"] and stored(core, account) == first

    at(599)  # under it: check mode says so and leaves the Secret alone
    controls = emulator_controls(cluster, request)
    preview = module.ensure(params, True)
    assert preview["changed"] and preview["token"]["issued"]
    assert "expires in 9 minutes" in preview["token"]["reason"]
    assert stored(core, account) == first
    if controls is not None:
        assert token_requests(controls) == []

    renewed = module.ensure(params, False)
    assert renewed["changed"] and renewed["token"]["issued"]
    after = stored(core, account)
    # Within the same second the API server signs the same claims into the same token, so a new
    # request is seen in the emulator's log, and the stored token is checked for consistency.
    if controls is not None:
        assert token_requests(controls) == [f"/api/v1/namespaces/{account}/serviceaccounts/deployer/token"]
    assert claims_of(after["data"]["token"])["iat"] >= claims_of(first["data"]["token"])["iat"]
    kubeconfig_user = yaml.safe_load(after["data"]["kubeconfig"])["users"][0]["user"]
    assert fingerprint(kubeconfig_user["token"]) == fingerprint(after["data"]["token"])
    assert after["annotations"]["tekton-cd.io/token-expires"] == renewed["token"]["expires"]


def test_server_change_reissues_and_rewrites_the_kubeconfig(cluster, account, core, tmp_path):
    internal = "https://127.0.0.1:16443"  # what an in-cluster consumer would use instead
    run_tasks([secret_task(account)], tmp_path=tmp_path / "1", kubeconfig=cluster.kubeconfig_path)
    first = stored(core, account)
    play = run_tasks([secret_task(account, server=internal)], tmp_path=tmp_path / "2",
                     kubeconfig=cluster.kubeconfig_path, diff=True)
    assert play.rc == 0, play.stdout
    task = play.task("credential")
    assert task.changed and task.result["token"]["reason"] == "the server URL changed"
    assert task.diff["after"]["data"]["kubeconfig"] == "<hidden, changed>"
    second = stored(core, account)
    assert claims_of(second["data"]["token"])["iat"] >= claims_of(first["data"]["token"])["iat"]
    assert yaml.safe_load(second["data"]["kubeconfig"])["clusters"][0]["cluster"]["server"] == internal
    again = run_tasks([secret_task(account, server=internal)], tmp_path=tmp_path / "3",
                      kubeconfig=cluster.kubeconfig_path)
    assert not again.task("credential").changed


def test_check_mode_requests_no_token_and_writes_nothing(cluster, account, core, tmp_path, request):
    controls = emulator_controls(cluster, request)
    play = run_tasks([secret_task(account)], tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path,
                     check=True, diff=True)
    assert play.rc == 0, play.stdout
    task = play.task("credential")
    assert task.changed and task.result["token"] == {
        "issued": True, "reason": "the Secret does not exist yet", "expires": None,
        "service_account": f"{account}/deployer"}
    assert stored(core, account) is None
    if controls is not None:
        assert all("dryRun=All" in query for _verb, _path, query in controls.writes())
        assert not [path for _verb, path, _query in controls.requests() if path.endswith("/token")]


def test_check_mode_with_a_missing_service_account_warns_instead_of_failing(cluster, namespace, core,
                                                                            tmp_path):
    play = run_tasks([secret_task(namespace)], tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path,
                     check=True)
    assert play.rc == 0, play.stdout
    task = play.task("credential")
    assert task.changed and "would be issued once it does" in " ".join(task.result.get("warnings", []))
    assert stored(core, namespace) is None


def test_missing_service_account_is_a_clear_error_and_writes_nothing(cluster, namespace, core, tmp_path):
    play = run_tasks([secret_task(namespace)], tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path)
    assert play.rc != 0
    assert play.task("credential").msg == (
        f"Cannot issue a token for service account {namespace}/deployer: ServiceAccount \"deployer\" in "
        f"namespace \"{namespace}\" does not exist; create it first (modules k8s_namespace, "
        "k8s_service_account).")
    assert stored(core, namespace) is None


def test_missing_namespace_is_a_clear_error(cluster, tmp_path):
    gone = cluster.unique_name("gone")
    play = run_tasks([secret_task(gone)], tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path)
    assert play.rc != 0
    assert f'namespace "{gone}" of ServiceAccount "deployer" does not exist' in play.task("credential").msg


def test_secret_namespace_missing_is_a_clear_error_before_any_token(cluster, account, tmp_path):
    gone = cluster.unique_name("gone")
    task = secret_task(gone, service_account_namespace=account)
    play = run_tasks([task], tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path)
    assert play.rc != 0
    assert play.task("credential").msg == (
        f'Cannot create Secret "deployer-kubeconfig" in namespace "{gone}": the namespace does not exist; '
        "create it first (module k8s_namespace).")


@pytest.mark.parametrize(("options", "message"), [
    ({"token_lifetime": 60}, "Invalid value for option 'token_lifetime': 60 seconds is shorter than"),
    ({"token_lifetime": 1200, "refresh_before": 1200}, "Invalid value for option 'refresh_before'"),
    ({"server": "127.0.0.1:6443"}, "Invalid value for option 'server'"),
    ({"ca_cert_data": "not a certificate"}, "Invalid value for option 'ca_cert_data'"),
])
def test_bad_input_fails_before_any_request(cluster, account, core, options, message):
    module, params = handler_params(cluster, account, **options)
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

    with pytest.raises(KubeError) as failure:
        module.ensure(params, False)
    assert failure.value.msg.startswith(message)
    assert stored(core, account) is None


def test_lifetime_or_audience_change_reissues(cluster, account, core):
    module, params = handler_params(cluster, account, token_lifetime=7200)
    module.ensure(params, False)
    first = stored(core, account)["data"]["token"]
    params["audiences"] = ["tekton-cd"]
    result = module.ensure(params, False)
    assert result["token"]["reason"] == "the token lifetime or audiences asked for changed"
    token = stored(core, account)["data"]["token"]
    assert fingerprint(token) != fingerprint(first) and "tekton-cd" in claims_of(token)["aud"]
    assert not module.ensure(params, False)["changed"]


def test_recreated_service_account_gets_a_new_token(cluster, account, core):
    module, params = handler_params(cluster, account)
    module.ensure(params, False)
    core.delete_namespaced_service_account("deployer", account)
    core.create_namespaced_service_account(account, {"metadata": {"name": "deployer"}})
    result = module.ensure(params, False)
    assert result["changed"] and "re-created" in result["token"]["reason"]


def test_state_absent_deletes_the_secret(cluster, account, core, tmp_path):
    module, params = handler_params(cluster, account)
    module.ensure(params, False)
    play = run_tasks([secret_task(account, state="absent")], tmp_path=tmp_path,
                     kubeconfig=cluster.kubeconfig_path)
    assert play.rc == 0 and play.task("credential").changed, play.stdout
    assert stored(core, account) is None
    again = run_tasks([secret_task(account, state="absent")], tmp_path=tmp_path / "2",
                      kubeconfig=cluster.kubeconfig_path)
    assert not again.task("credential").changed


# -- the list form: several tenants' Secrets in one task ----------------------------------------

@pytest.fixture
def tenants(cluster, core):
    """tenants(count, label): fresh namespaces, each with a service account 'deployer' labelled
    tenant-set=label (as k8s_service_account would leave it); deleted after the test."""
    made = []

    def make(count, label):
        names = [cluster.unique_name("t") for _ in range(count)]
        for name in names:
            core.create_namespace({"metadata": {"name": name}})
            core.create_namespaced_service_account(
                name, {"metadata": {"name": "deployer", "labels": {"tenant-set": label}}})
        made.extend(names)
        return names

    yield make
    for name in made:
        core.delete_namespace(name)


def list_task(names, label, **options):
    entries = [{"name": "deployer-kubeconfig", "namespace": name, "service_account": "deployer",
                "target_namespace": f"{name}-apps"} for name in names]
    return {"name": "credential", MODULE: {"secrets": entries, "labels": {"tenant-set": label}, **options}}


def test_the_list_form_keeps_a_secret_per_tenant_and_a_no_op_reads_each_kind_once(cluster, core, tenants,
                                                                                 tmp_path, request):
    counts = {}
    for count in (1, 3):
        label = cluster.unique_name("set")
        names = tenants(count, label)
        controls = emulator_controls(cluster, request)
        first = run_tasks([list_task(names, label)], tmp_path=tmp_path / f"{count}-1",
                          kubeconfig=cluster.kubeconfig_path)
        assert first.rc == 0, first.stdout
        task = first.task("credential")
        assert task.changed and [token["issued"] for token in task.result["tokens"]] == [True] * count
        assert [r["metadata"]["namespace"] for r in task.result["results"]] == names
        for name in names:
            token = stored(core, name)["data"]["token"]
            assert claims_of(token)["sub"] == f"system:serviceaccount:{name}:deployer"
            assert stored(core, name)["data"]["namespace"] == f"{name}-apps"
            assert_token_never_shown(first, token)
        before = [stored(core, name) for name in names]
        if controls is not None:
            assert len(token_requests(controls)) == count
            controls.reset()
        second = run_tasks([list_task(names, label)], tmp_path=tmp_path / f"{count}-2",
                           kubeconfig=cluster.kubeconfig_path)
        assert second.rc == 0, second.stdout
        task = second.task("credential")
        assert not task.changed and not any(token["issued"] for token in task.result["tokens"])
        if controls is not None:
            assert controls.writes() == []
            reads = [(path, query) for verb, path, query in controls.requests()
                     if "/secrets" in path or "/serviceaccounts" in path]
            where = f"/api/v1/namespaces/{names[0]}" if count == 1 else "/api/v1"
            if count == 1:  # one Secret and one account: a GET each, no LIST needed
                assert [path for path, _query in reads] == [f"{where}/secrets/deployer-kubeconfig",
                                                            f"{where}/serviceaccounts/deployer"]
            else:
                selector = f"labelSelector=tenant-set%3D{label}"
                assert reads == [(f"{where}/secrets", selector), (f"{where}/serviceaccounts", selector)]
            counts[count] = len(controls.requests())
        assert [stored(core, name) for name in names] == before
    if counts:
        assert counts[1] == counts[3], counts


def test_the_list_form_issues_a_token_only_where_one_must_be(cluster, core, tenants, tmp_path, request):
    label = cluster.unique_name("set")
    names = tenants(2, label)
    first = run_tasks([list_task(names, label)], tmp_path=tmp_path / "1", kubeconfig=cluster.kubeconfig_path)
    assert first.rc == 0, first.stdout
    kept = stored(core, names[0])
    controls = emulator_controls(cluster, request)
    task = list_task(names, label)
    task[MODULE]["secrets"][1]["server"] = "https://127.0.0.1:16443"
    play = run_tasks([task], tmp_path=tmp_path / "2", kubeconfig=cluster.kubeconfig_path)
    assert play.rc == 0, play.stdout
    tokens = play.task("credential").result["tokens"]
    assert [token["issued"] for token in tokens] == [False, True]
    assert tokens[1]["reason"] == "the server URL changed"
    assert stored(core, names[0]) == kept
    if controls is not None:
        assert token_requests(controls) == [f"/api/v1/namespaces/{names[1]}/serviceaccounts/deployer/token"]


def test_the_list_form_checks_every_entry_before_any_request(cluster, tenants, tmp_path):
    label = cluster.unique_name("set")
    names = tenants(1, label)
    cases = [
        ({"secrets": [{"name": "a", "service_account": "deployer"}]},
         "Invalid value for option 'secrets[0].namespace': no namespace is given"),
        ({"secrets": [{"name": "a", "namespace": names[0]}]},
         "Invalid value for option 'secrets[0].service_account': no service account is given"),
        ({"secrets": [{"name": "a", "namespace": names[0], "service_account": "d", "token_lifetime": 60}]},
         "Invalid value for option 'secrets[0].token_lifetime': 60 seconds is shorter than"),
        ({"secrets": [{"name": "a", "namespace": names[0], "service_account": "d"}] * 2},
         "Invalid value for option 'secrets[1].name': Secret 'a' is listed twice"),
        ({"name": "a", "secrets": [{"name": "a", "namespace": names[0], "service_account": "d"}]},
         "Invalid value for option 'name': it cannot be combined with secrets"),
    ]
    tasks = [{"name": f"case {index}", MODULE: options, "ignore_errors": True}
             for index, (options, _message) in enumerate(cases)]
    play = run_tasks(tasks, tmp_path=tmp_path, kubeconfig=cluster.kubeconfig_path)
    for index, (_options, message) in enumerate(cases):
        assert play.task(f"case {index}").msg.startswith(message), play.task(f"case {index}").msg


def test_the_list_form_deletes_every_secret(cluster, core, tenants, tmp_path):
    label = cluster.unique_name("set")
    names = tenants(2, label)
    first = run_tasks([list_task(names, label)], tmp_path=tmp_path / "1", kubeconfig=cluster.kubeconfig_path)
    assert first.rc == 0, first.stdout
    gone = run_tasks([list_task(names, label, state="absent")], tmp_path=tmp_path / "2",
                     kubeconfig=cluster.kubeconfig_path)
    assert gone.rc == 0 and gone.task("credential").changed, gone.stdout
    assert [stored(core, name) for name in names] == [None, None]


def test_the_list_form_with_a_missing_account_warns_in_check_mode_and_fails_before_any_token(
        cluster, core, tenants, namespace, tmp_path, request):
    label = cluster.unique_name("set")
    names = [*tenants(1, label), namespace]  # the fresh namespace has no account "deployer"
    controls = emulator_controls(cluster, request)
    preview = run_tasks([list_task(names, label)], tmp_path=tmp_path / "check", check=True,
                        kubeconfig=cluster.kubeconfig_path)
    assert preview.rc == 0, preview.stdout
    task = preview.task("credential")
    assert task.changed and [token["issued"] for token in task.result["tokens"]] == [True, True]
    assert task.result["results"][1] == {}
    assert any("would be issued once it does" in warning for warning in task.result["warnings"])
    real = run_tasks([list_task(names, label)], tmp_path=tmp_path / "real",
                     kubeconfig=cluster.kubeconfig_path)
    assert real.rc != 0
    assert real.task("credential").msg == (
        f"Cannot issue a token for service account {namespace}/deployer: ServiceAccount \"deployer\" in "
        f"namespace \"{namespace}\" does not exist; create it first (modules k8s_namespace, "
        "k8s_service_account).")
    assert [stored(core, name) for name in names] == [None, None]
    if controls is not None:
        assert token_requests(controls) == [] and persisted_writes(controls) == []
