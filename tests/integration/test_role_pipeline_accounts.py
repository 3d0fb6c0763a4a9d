"""The pipeline_accounts role against the cluster fixture (emulated, or real with TEST_KUBECONFIG).

Each test works in two namespaces of its own (pipeline and application), reaches the cluster only
through the role's ``kube_connection`` variable (as after cluster_login), and deletes what it made.
Requests with the issued token check real RBAC, not only what the access review said.
"""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from tests.playbook import run_tasks

ROLE = "pipeline_accounts"
REVIEW_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
REVIEW_TASK = "Prove each account can do what its duty needs and nothing it must not"


def role_task(name="accounts", tasks_from=None):
    include = {"name": ROLE}
    if tasks_from:
        include["tasks_from"] = tasks_from
    return {"name": name, "ansible.builtin.include_role": include}


def new_stage(cluster):
    """Unique namespaces, the role's variables for them, and a clean-up function."""
    pipeline, app = cluster.unique_name("ci"), cluster.unique_name("app")
    variables = {
        "kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
        "pipeline_accounts_pipeline_namespace": pipeline,
        "pipeline_accounts_app_namespace": app,
    }

    def clean_up():
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        core = client.CoreV1Api(cluster.api_client())
        for name in (pipeline, app):
            try:
                core.delete_namespace(name)
            except ApiException as error:
                if error.status not in (404, 409):
                    raise

    return pipeline, app, variables, clean_up


@pytest.fixture
def stage(cluster):
    """A stage of its own for one test."""
    pipeline, app, variables, clean_up = new_stage(cluster)
    yield pipeline, app, variables
    clean_up()


@pytest.fixture(scope="module")
def converged(cluster, tmp_path_factory):
    """One stage the role converged, shared by the tests below that only read it (the tampering test,
    which changes it, comes last). The connection is a kubeconfig dict, as ibmcloud_cluster_config
    returns it, with the admin credentials inside; the run is verbose with --diff, so that the test
    of the output sees everything a user could."""
    pipeline, app, variables, clean_up = new_stage(cluster)
    variables = {**variables, "kube_connection": {"kubeconfig": cluster.kubeconfig_dict}}
    play = apply_role(tmp_path_factory.mktemp("converge"), variables, diff=True, verbosity=3)
    yield pipeline, app, variables, play
    clean_up()


def apply_role(tmp_path, variables, *, check=False, diff=False, tasks_from=None, verbosity=0):
    # No K8S_AUTH_KUBECONFIG: the connection must come from kube_connection alone.
    return run_tasks([role_task(tasks_from=tasks_from)], tmp_path=tmp_path, extra_vars=variables, check=check,
                     diff=diff, verbosity=verbosity)


def state_writes(controls):
    """Requests that change stored state: every write but the (storage-less) access reviews."""
    return [(verb, path, query) for verb, path, query in controls.writes() if path != REVIEW_PATH]


def snapshot(cluster, *namespaces):
    """(kind, namespace, name) -> resourceVersion of everything the role manages there."""
    from kubernetes import client

    api = cluster.api_client()
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    found = {}
    for namespace in namespaces:
        listings = [("ServiceAccount", core.list_namespaced_service_account),
                    ("Secret", core.list_namespaced_secret), ("Role", rbac.list_namespaced_role),
                    ("RoleBinding", rbac.list_namespaced_role_binding)]
        for kind, lister in listings:
            for item in lister(namespace).items:
                found[(kind, namespace, item.metadata.name)] = item.metadata.resource_version
        found[("Namespace", "", namespace)] = core.read_namespace(namespace).metadata.resource_version
    return found


def namespace_exists(cluster, name):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    try:
        client.CoreV1Api(cluster.api_client()).read_namespace(name)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def deployer_kubeconfig(cluster, pipeline):
    from kubernetes import client

    secret = client.CoreV1Api(cluster.api_client()).read_namespaced_secret("deployer-kubeconfig", pipeline)
    return yaml.safe_load(base64.b64decode(secret.data["kubeconfig"]).decode())


def test_check_mode_on_a_fresh_cluster_writes_nothing(cluster, stage, tmp_path, request):
    pipeline, app, variables = stage
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    play = apply_role(tmp_path, variables, check=True, diff=True)
    assert play.rc == 0, play.stdout
    assert play.task("Ensure the pipeline and application namespaces exist").changed
    assert play.task("Ensure the deployer's cluster-credential secret holds a current token").changed
    assert play.task(REVIEW_TASK).status == "skipped"
    assert not namespace_exists(cluster, pipeline) and not namespace_exists(cluster, app)
    if controls is not None:
        assert all("dryRun=All" in query for _verb, _path, query in state_writes(controls))
        assert not [path for _verb, path, _query in controls.requests() if path.endswith("/token")]


def test_converges_and_the_review_passes(converged):
    _pipeline, _app, _variables, play = converged
    assert play.rc == 0, play.stdout
    assert [task.name for task in play.changed] == [
        "Ensure the pipeline and application namespaces exist",
        "Ensure the builder, deployer and namespace-admin service accounts exist",
        "Ensure the deployer's role and the namespace admin's binding in the application namespace",
        "Ensure the deployer's cluster-credential secret holds a current token",
    ]
    assert play.task(REVIEW_TASK).status == "ok"
    assert play.task("Ensure the pipeline and application namespaces exist").result["diff"]  # --diff


def test_no_token_or_credential_reaches_the_output(cluster, converged):
    pipeline, _app, _variables, play = converged
    issued = deployer_kubeconfig(cluster, pipeline)["users"][0]["user"]["token"]
    admin_user = cluster.kubeconfig_dict["users"][0]["user"]
    secrets = [issued, base64.b64encode(issued.encode()).decode()]
    secrets += [value for key, value in admin_user.items() if key in ("token", "client-key-data")]
    recorded = json.dumps([task.result for task in play.tasks])
    leaks = [index for index, secret in enumerate(secrets)
             if secret in play.stdout or secret in play.stderr or secret in recorded]
    assert leaks == []  # indexes only: a failure must not print the secrets themselves


def test_second_run_changes_nothing_and_writes_nothing(cluster, converged, tmp_path, request):
    pipeline, app, variables, _play = converged
    before = snapshot(cluster, pipeline, app)
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    second = apply_role(tmp_path / "again", variables)
    assert second.rc == 0, second.stdout
    assert [task.name for task in second.changed] == []
    assert snapshot(cluster, pipeline, app) == before
    # Without --diff the calls' diffs are left out of the stage's result, not handed to Ansible.
    assert [task.name for task in [*second.tasks, *second.steps] if "diff" in task.result] == []
    writes = state_writes(controls) if controls is not None else []

    checked = apply_role(tmp_path / "check", variables, check=True)
    assert checked.rc == 0 and checked.changed == [], checked.stdout
    assert checked.task(REVIEW_TASK).status == "ok"
    assert snapshot(cluster, pipeline, app) == before

    assert writes == []


def test_the_issued_token_meets_real_rbac_as_reviewed(cluster, converged):
    """Requests made with the token from the deployer's secret are allowed and denied as reviewed."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    pipeline, app, _variables, _play = converged
    api = config.new_client_from_config_dict(deployer_kubeconfig(cluster, pipeline))
    core, apps, rbac = client.CoreV1Api(api), client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    config_map = {"metadata": {"name": "proof"}, "data": {"a": "b"}}

    core.create_namespaced_config_map(app, config_map)
    core.list_namespaced_secret(app)
    release_record = {"metadata": {"name": "sh.helm.release.v1.proof.v1"}, "type": "Opaque"}
    core.create_namespaced_secret(app, release_record)
    apps.create_namespaced_deployment(app, {
        "metadata": {"name": "proof"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "proof"}},
                 "template": {"metadata": {"labels": {"app": "proof"}},
                              "spec": {"containers": [{"name": "c", "image": "registry.test/proof:1"}]}}},
    }, dry_run="All")
    core.patch_namespaced_config_map("proof", app, {"data": {"a": "c"}})
    core.delete_namespaced_config_map("proof", app)
    core.delete_namespaced_secret(release_record["metadata"]["name"], app)

    def refused(call, *args, **kwargs):
        with pytest.raises(ApiException) as refusal:
            call(*args, **kwargs)
        assert refusal.value.status == 403, refusal.value.body
        assert f"system:serviceaccount:{pipeline}:deployer" in json.loads(refusal.value.body)["message"]

    refused(core.list_namespaced_secret, pipeline)
    refused(core.read_namespaced_secret, "deployer-kubeconfig", pipeline)
    refused(core.list_namespaced_secret, "default")
    refused(core.create_namespaced_config_map, pipeline, config_map)
    refused(core.create_namespaced_config_map, "default", config_map)
    refused(core.create_namespace, {"metadata": {"name": cluster.unique_name("nope")}})
    refused(rbac.create_cluster_role, {"metadata": {"name": cluster.unique_name("nope")}, "rules": []})
    refused(rbac.create_namespaced_role, app, {"metadata": {"name": "more"}, "rules": []})
    refused(rbac.create_namespaced_role_binding, app, {
        "metadata": {"name": "more"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": pipeline}]})


def test_the_builder_has_no_kubernetes_api_rights(cluster, converged):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    pipeline, app, _variables, _play = converged
    admin = client.CoreV1Api(cluster.api_client())
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": 600}}
    token = admin.create_namespaced_service_account_token("builder", pipeline, request).status.token
    builder = client.CoreV1Api(cluster.api_client(token))
    account = admin.read_namespaced_service_account("builder", pipeline)
    assert account.automount_service_account_token is False
    attempts = [(builder.list_namespaced_pod, pipeline), (builder.list_namespaced_secret, pipeline),
                (builder.list_namespaced_config_map, app), (builder.list_namespaced_pod, app)]
    for call, namespace in attempts:
        with pytest.raises(ApiException) as refusal:
            call(namespace)
        assert refusal.value.status == 403
        assert f"system:serviceaccount:{pipeline}:builder" in json.loads(refusal.value.body)["message"]


def test_registry_credentials_linked_by_another_step_are_left_alone(cluster, converged, tmp_path):
    """cluster_login's registry step links its secret to the builder after this role (read-modify-
    write under its own field manager); the next run of the role must neither fight nor undo it."""
    from kubernetes import client

    pipeline, _app, variables, _play = converged
    core = client.CoreV1Api(cluster.api_client())
    builder = core.read_namespaced_service_account("builder", pipeline)
    builder.image_pull_secrets = [client.V1LocalObjectReference(name="icr-credentials")]
    builder.secrets = [client.V1ObjectReference(name="icr-credentials")]
    core.replace_namespaced_service_account("builder", pipeline, builder,
                                            field_manager="tekton-cd-registry-secret")

    again = apply_role(tmp_path, variables)
    assert again.rc == 0, again.stdout
    assert [task.name for task in again.changed] == []
    linked = core.read_namespaced_service_account("builder", pipeline)
    assert [ref.name for ref in linked.image_pull_secrets] == ["icr-credentials"]
    assert [ref.name for ref in linked.secrets] == ["icr-credentials"]


def test_a_tampered_role_is_caught_by_the_review_and_put_back(cluster, converged, tmp_path):
    from kubernetes import client

    _pipeline, app, variables, _play = converged
    rbac = client.RbacAuthorizationV1Api(cluster.api_client())
    wanted = rbac.read_namespaced_role("chart-deployer", app).rules
    tampered = rbac.read_namespaced_role("chart-deployer", app)
    tampered.rules[1].verbs.append("deletecollection")  # an extra verb, added by hand
    tampered.rules.append(client.V1PolicyRule(api_groups=["rbac.authorization.k8s.io"], resources=["roles"],
                                              verbs=["create"]))
    rbac.replace_namespaced_role("chart-deployer", app, tampered)

    audit = apply_role(tmp_path / "audit", variables, tasks_from="review")
    assert audit.rc != 0
    caught = audit.task(REVIEW_TASK)
    assert caught.failed
    mismatches = caught.result["mismatches"]  # one review task for all accounts, each line names its account
    assert any("may create roles" in line for line in mismatches), mismatches

    fixed = apply_role(tmp_path / "fix", variables)
    assert fixed.rc == 0, fixed.stdout
    assert fixed.task("Ensure the deployer's role and the namespace admin's binding in the application "
                      "namespace").changed
    assert fixed.task(REVIEW_TASK).status == "ok"
    assert rbac.read_namespaced_role("chart-deployer", app).rules == wanted


def review_requests(controls):
    return [request for request in controls.requests() if request[1] == REVIEW_PATH]


def rbac_lists(controls):
    """Cluster-wide LISTs of the four RBAC kinds: the fingerprint's reads."""
    kinds = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
    return [request for request in controls.requests()
            if request[0] == "GET" and request[1].rpartition("/")[0] == "/apis/rbac.authorization.k8s.io/v1"
            and request[1].rpartition("/")[2] in kinds]


def test_a_no_op_run_asks_no_review_question_until_rbac_changes(cluster, stage, tmp_path, request):
    """The first run asks every question and records the fingerprint; the next asks none and writes
    nothing (four RBAC LISTs and one GET of the record instead of ~100 reviews), also after RBAC
    changes in a namespace no question is about; a ClusterRoleBinding
    made elsewhere that grants the deployer more is caught by the run after it, and then nothing is
    recorded, so every later run asks again until it is removed (which restores the reviewed state)."""
    from kubernetes import client

    pipeline, app, variables = stage
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    first = apply_role(tmp_path / "first", variables)
    assert first.rc == 0, first.stdout
    assert first.task(REVIEW_TASK).result["reviewed"] is True
    core = client.CoreV1Api(cluster.api_client())
    record = core.read_namespaced_config_map("tekton-cd-access-review", pipeline)
    assert record.data["fingerprint"] == first.task(REVIEW_TASK).result["fingerprint"]
    assert set(record.data) == {"fingerprint", "questions", "reviewed-at"}

    if controls is not None:
        controls.reset()
    again = apply_role(tmp_path / "again", variables)
    assert again.rc == 0, again.stdout
    if controls is not None:  # on a shared real cluster other RBAC writes may come in between
        assert again.task(REVIEW_TASK).result["reviewed"] is False
        assert review_requests(controls) == []
        assert controls.writes() == []
        assert len(rbac_lists(controls)) == 4
        rows = [row for entry in again.task(REVIEW_TASK).result["reviews"] for row in entry["results"]]
        assert rows and all(row["ok"] for row in rows)

    rbac = client.RbacAuthorizationV1Api(cluster.api_client())
    # RBAC in a namespace no question is about (another tenant's) grants nothing where the questions
    # ask, even to the deployer: the record still holds, so tenants do not void each other's records.
    tenant = cluster.unique_name("tenant")
    core.create_namespace({"metadata": {"name": tenant}})
    try:
        rbac.create_namespaced_role(tenant, {"metadata": {"name": "reader"}, "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]})
        rbac.create_namespaced_role_binding(tenant, {
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": pipeline}]})
        elsewhere = apply_role(tmp_path / "elsewhere", variables)
        assert elsewhere.rc == 0, elsewhere.stdout
        if controls is not None:
            assert elsewhere.task(REVIEW_TASK).result["reviewed"] is False
    finally:
        core.delete_namespace(tenant)

    too_wide = cluster.unique_name("too-wide")
    rbac.create_cluster_role_binding({  # edit: secrets and workloads in every namespace
        "metadata": {"name": too_wide},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": pipeline}]})
    try:
        if controls is not None:
            controls.reset()
        caught = apply_role(tmp_path / "caught", variables)
        assert caught.rc != 0
        review = caught.task(REVIEW_TASK)
        assert review.failed and review.result.get("reviewed") is True, review.result
        assert any(too_wide in line and "may get secrets" in line for line in review.result["mismatches"]), \
            review.result["mismatches"]
        if controls is not None:
            assert len(review_requests(controls)) > 50  # every question was asked again
            assert [write for write in controls.writes() if write[1] != REVIEW_PATH] == []  # nothing recorded

        still = apply_role(tmp_path / "still", variables, tasks_from="review")
        assert still.rc != 0 and still.task(REVIEW_TASK).result["reviewed"] is True
    finally:
        rbac.delete_cluster_role_binding(too_wide)

    # Without the binding, every RBAC object is again exactly as when the review last passed.
    healed = apply_role(tmp_path / "healed", variables)
    assert healed.rc == 0, healed.stdout
    if controls is not None:
        assert healed.task(REVIEW_TASK).result["reviewed"] is False


def test_without_a_record_every_run_asks(cluster, stage, tmp_path, request):
    pipeline, _app, variables = stage
    variables = {**variables, "pipeline_accounts_review_record": ""}
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    assert apply_role(tmp_path / "first", variables).rc == 0
    if controls is not None:
        controls.reset()
    again = apply_role(tmp_path / "again", variables)
    assert again.rc == 0, again.stdout
    assert again.task(REVIEW_TASK).result["reviewed"] is True
    assert "fingerprint" not in again.task(REVIEW_TASK).result
    if controls is not None:
        assert len(review_requests(controls)) > 50
        assert rbac_lists(controls) == []


def test_several_tenants_in_one_run_cost_one_call_per_kind(cluster, tmp_path, request):
    """pipeline_accounts_tenants: every tenant gets its namespaces, accounts, RBAC and secret from
    one call per kind, one review proves every tenant's accounts (one record), and the no-op sends
    as many requests for three tenants as for one, and writes nothing."""
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    stages = [new_stage(cluster) for _ in range(3)]
    tenants = [{"pipeline_namespace": pipeline, "app_namespace": app} for pipeline, app, _, _ in stages]
    variables = {"kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
                 "pipeline_accounts_tenants": tenants}
    try:
        first = apply_role(tmp_path / "first", variables)
        assert first.rc == 0, first.stdout
        assert [task.name for task in first.changed] == [
            "Ensure the pipeline and application namespaces exist",
            "Ensure the builder, deployer and namespace-admin service accounts exist",
            "Ensure the deployer's role and the namespace admin's binding in the application namespace",
            "Ensure the deployer's cluster-credential secret holds a current token",
        ]
        review = first.task(REVIEW_TASK).result
        assert review["reviewed"] is True
        reviewed = {entry["identity"]["user"] for entry in review["reviews"]}
        assert reviewed == {f"system:serviceaccount:{tenant['pipeline_namespace']}:{account}"
                            for tenant in tenants for account in ("deployer", "builder", "health-admin")}
        for tenant in tenants:
            made = snapshot(cluster, tenant["pipeline_namespace"], tenant["app_namespace"])
            assert {key[::2] for key in made} >= {
                ("ServiceAccount", "builder"), ("ServiceAccount", "deployer"),
                ("ServiceAccount", "health-admin"), ("Secret", "deployer-kubeconfig"),
                ("Role", "chart-deployer"), ("RoleBinding", "chart-deployer"),
                ("RoleBinding", "health-admin")}
            # each tenant's deployer may deploy to its own application namespace only
            kubeconfig = deployer_kubeconfig(cluster, tenant["pipeline_namespace"])
            assert kubeconfig["contexts"][0]["context"]["namespace"] == tenant["app_namespace"]

        if controls is not None:
            controls.reset()
            again = apply_role(tmp_path / "again", variables)
            assert again.rc == 0 and again.changed == [], again.stdout
            assert controls.writes() == []
            three = len(controls.requests())
            one_variables = {**variables, "pipeline_accounts_tenants": tenants[:1]}
            assert apply_role(tmp_path / "one", one_variables).rc == 0  # its own record: asks, then remembers
            assert apply_role(tmp_path / "one-again", one_variables).rc == 0
            controls.reset()
            assert apply_role(tmp_path / "one-noop", one_variables).rc == 0
            assert len(controls.requests()) == three, controls.requests()

        # teardown's namespaces follow the tenants: every tenant's namespaces go, nothing else was there
        torn = run_tasks([{"name": "teardown", "ansible.builtin.include_role": {"name": "teardown"}}],
                         tmp_path=tmp_path / "teardown", extra_vars=variables)
        assert torn.rc == 0, torn.stdout
        for tenant in tenants:
            assert not namespace_exists(cluster, tenant["pipeline_namespace"])
            assert not namespace_exists(cluster, tenant["app_namespace"])
    finally:
        for _, _, _, clean_up in stages:
            clean_up()
