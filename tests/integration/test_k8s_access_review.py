"""k8s_access_review through real ansible-playbook runs, against the emulated cluster or the real one
that TEST_KUBECONFIG names. The review's answers are checked against the authorizer itself: requests
made with a token of the reviewed service account (TokenRequest) must be allowed or refused exactly
as the review said."""

from __future__ import annotations

import pytest

from tests.integration.support import (
    as_field_manager,
    assert_each_case_fails,
    kube_service,
    reset_request_log,
)
from tests.playbook import use_project_module_utils

use_project_module_utils()

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402

RBAC = "rbac.authorization.k8s.io/v1"
VERSION_OF_GROUP = {"": "v1", "apps": "v1", "rbac.authorization.k8s.io": "v1"}
METHOD_OF_VERB = {"get": "GET", "list": "GET", "create": "POST", "patch": "PATCH", "delete": "DELETE"}
KIND_OF_RESOURCE = {"configmaps": "ConfigMap", "namespaces": "Namespace", "roles": "Role",
                    "rolebindings": "RoleBinding", "deployments": "Deployment", "pods": "Pod",
                    "secrets": "Secret"}


DEPLOY_RULES = [
    {"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "create", "patch"]},
    {"api_groups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create"]},
    {"api_groups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
]
MUST_ALLOW = [
    {"verb": "create", "resource": "deployments", "group": "apps"},
    {"verb": "patch", "resource": "deployments", "group": "apps", "name": "health-api"},
    {"verb": "create", "resource": "configmaps"},
    {"verb": "list", "resource": "pods"},
    {"verb": "get", "resource": "pods/log", "name": "health-api-0"},
]
MUST_DENY = [
    {"verb": "list", "resource": "secrets"},
    {"verb": "delete", "resource": "pods", "name": "health-api-0"},
    {"verb": "create", "resource": "configmaps", "namespace": "default"},
    {"verb": "list", "resource": "pods", "namespace": "kube-system"},
    {"verb": "create", "resource": "namespaces"},
    {"verb": "create", "resource": "roles", "group": "rbac.authorization.k8s.io"},
    {"verb": "create", "resource": "rolebindings", "group": "rbac.authorization.k8s.io"},
]


def arrange_deployer(play, namespace):
    """The service account and its Role, made by the project's own modules."""
    run = play([
        {"name": "account", "k8s_service_account": {"name": "deployer", "namespace": namespace}},
        {"name": "role", "k8s_rbac": {"name": "deployer", "namespace": namespace, "rules": DEPLOY_RULES,
                                      "subjects": [{"name": "deployer"}]}},
    ])
    assert run.rc == 0, run.stdout


def review_task(task_name="review", **options):
    return {"name": task_name, "k8s_access_review": options}


def token_for(kube, namespace, account):
    answer = kube.create({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                          "spec": {"expirationSeconds": 600}},
                         namespace=namespace, subresource_of=("v1", "ServiceAccount", account, "token"))
    return answer["status"]["token"]


def attempt(service, row):
    """Perform one reviewed action for real (writes as dry runs); True unless the API answers 403."""
    group, resource = row["group"], row["resource"]
    base = f"/apis/{group}/{VERSION_OF_GROUP[group]}" if group else "/api/v1"
    path = base + (f"/namespaces/{row['namespace']}" if row["namespace"] else "") + f"/{resource}"
    if row["name"]:
        path += f"/{row['name']}"
    if row["subresource"]:
        path += f"/{row['subresource']}"
    method = METHOD_OF_VERB[row["verb"]]
    query, body, content_type = [], None, None
    if method != "GET":
        query.append(("dryRun", "All"))
    if method == "POST":
        api_version = f"{group}/{VERSION_OF_GROUP[group]}" if group else "v1"
        body = {"apiVersion": api_version, "kind": KIND_OF_RESOURCE[resource], "metadata": {"name": "probe"}}
    if method == "PATCH":
        body, content_type = {"metadata": {"labels": {"probe": "x"}}}, "application/merge-patch+json"
    try:
        service.client.request_json(method, path, action=row["verb"], target=path, query=query, body=body,
                                    content_type=content_type, missing_ok=True)
    except KubeError as error:
        if error.status == 403:
            return False
    return True  # any other answer (200, 404 for a missing object, 422 ...) came after authorization


def test_the_review_matches_what_the_account_token_may_really_do(cluster, kube, namespace, play):
    arrange_deployer(play, namespace)
    run = play([review_task(service_account=f"{namespace}:deployer", namespace=namespace,
                            allowed=MUST_ALLOW, denied=MUST_DENY)])
    assert run.rc == 0, run.stdout
    task = run.task("review")
    assert not task.changed and task.result["mismatches"] == []
    rows = task.result["results"]
    assert [row["allowed"] for row in rows] == [True] * len(MUST_ALLOW) + [False] * len(MUST_DENY)
    assert all(row["ok"] for row in rows)
    assert rows[4]["resource"] == "pods" and rows[4]["subresource"] == "log"
    assert rows[0]["reason"]  # the authorizer says which binding allows it
    assert [row["namespace"] for row in rows[-3:]] == ["", namespace, namespace]  # namespaces: cluster-wide
    assert task.result["identity"] == {
        "user": f"system:serviceaccount:{namespace}:deployer",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]}

    as_account = kube_service(cluster.kubeconfig_with_token(token_for(kube, namespace, "deployer")))
    really = [attempt(as_account, row) for row in rows]
    assert really == [row["allowed"] for row in rows], [
        (row["verb"], row["resource"], row["namespace"]) for row, done in zip(rows, really, strict=True)
        if done != row["allowed"]]


def test_every_mismatch_is_listed_and_the_table_is_kept(cluster, namespace, play):
    arrange_deployer(play, namespace)
    reset_request_log(cluster)
    run = play([review_task(service_account={"namespace": namespace, "name": "deployer"}, namespace=namespace,
                            allowed=[{"verb": "list", "resource": "pods"},
                                     {"verb": "list", "resource": "secrets"},
                                     {"verb": "delete", "resource": "deployments", "group": "apps"}],
                            denied=[{"verb": "create", "resource": "configmaps"},
                                    {"verb": "create", "resource": "namespaces"}])])
    assert run.rc != 0
    task = run.task("review")
    assert task.failed and not task.changed
    assert task.msg == (
        f'Access review of ServiceAccount "{namespace}:deployer": 3 of 5 answers differ from what is '
        f'expected: may not list secrets in namespace "{namespace}" but should; may not delete '
        f'deployments.apps in namespace "{namespace}" but should; may create configmaps in namespace '
        f'"{namespace}" but should not ({task.result["results"][3]["reason"]}); fix its roles and bindings '
        "(k8s_rbac) or the expectations in allowed/denied.")
    assert [row["ok"] for row in task.result["results"]] == [True, False, False, False, True]
    assert len(task.result["mismatches"]) == 3
    if cluster.controls:
        assert [w for w in cluster.controls.writes() if "subjectaccessreviews" not in w[1]] == []

    report_only = play([review_task(service_account=f"{namespace}:deployer", namespace=namespace,
                                    allowed=[{"verb": "list", "resource": "secrets"}],
                                    fail_on_mismatch=False)])
    assert report_only.rc == 0
    assert report_only.task("review").result["mismatches"] == [
        f'may not list secrets in namespace "{namespace}" but should']


def test_a_tampered_role_is_caught_by_the_review_and_put_back_by_k8s_rbac(kube, namespace, play):
    arrange_deployer(play, namespace)
    as_field_manager(kube, "kubectl-edit").update(
        RBAC, "Role", "deployer", namespace,
        lambda role: role["rules"].append({"apiGroups": [""], "resources": ["secrets"],
                                           "verbs": ["get", "list"]}))
    review = review_task(service_account=f"{namespace}:deployer", namespace=namespace,
                         allowed=[{"verb": "list", "resource": "pods"}],
                         denied=[{"verb": "list", "resource": "secrets"}])
    caught = play([review])
    assert caught.rc != 0
    assert f'may list secrets in namespace "{namespace}" but should not' in caught.task("review").msg

    fixed = play([
        {"name": "role", "k8s_rbac": {"name": "deployer", "namespace": namespace, "rules": DEPLOY_RULES,
                                      "subjects": [{"name": "deployer"}]}},
        review,
    ])
    assert fixed.rc == 0, fixed.stdout
    assert fixed.task("role").changed and fixed.task("review").result["mismatches"] == []


def test_users_and_groups_are_reviewed_in_one_task_and_check_mode_answers_the_same(cluster, namespace, play):
    assert play([{"name": "rbac", "k8s_rbac": {
        "namespace": namespace, "roles": [
            {"name": "alice", "rules": [{"api_groups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
             "subjects": [{"kind": "User", "name": "alice"}]},
            {"name": "viewers", "cluster_role": "view", "subjects": [{"kind": "Group", "name": "viewers"}]},
        ]}}]).rc == 0
    reviews = [
        {"user": "alice", "allowed": [{"verb": "get", "resource": "configmaps", "name": "settings"}],
         "denied": [{"verb": "list", "resource": "configmaps"}, {"verb": "list", "resource": "pods"}]},
        {"user": "alice", "groups": ["viewers"],
         "allowed": [{"verb": "list", "resource": "pods"}, {"verb": "get", "resource": "configmaps"}],
         "denied": [{"verb": "list", "resource": "secrets"}, {"verb": "update", "resource": "pods"}]},
        {"groups": ["viewers"], "namespace": "default", "denied": [{"verb": "list", "resource": "pods"}]},
    ]
    wrong = [{"user": "alice", "allowed": [{"verb": "list", "resource": "pods"}]},
             {"groups": ["viewers"], "denied": [{"verb": "list", "resource": "pods"}]}]
    tasks = [review_task("as expected", namespace=namespace, reviews=reviews),
             review_task("not as expected", namespace=namespace, reviews=wrong, fail_on_mismatch=False)]
    for check in (False, True):
        reset_request_log(cluster)
        run = play(tasks, check=check)
        assert run.rc == 0, run.stdout
        assert [t.changed for t in run.tasks] == [False, False]
        expected = run.task("as expected").result
        assert expected["mismatches"] == []
        assert [r["identity"]["user"] for r in expected["reviews"]] == ["alice", "alice", ""]
        assert expected["reviews"][1]["identity"]["groups"] == ["viewers", "system:authenticated"]
        assert [len(r["results"]) for r in expected["reviews"]] == [3, 4, 1]
        assert expected["reviews"][2]["results"][0]["namespace"] == "default"
        assert run.task("not as expected").result["mismatches"] == [
            f'user "alice" may not list pods in namespace "{namespace}" but should',
            f'groups "viewers" may list pods in namespace "{namespace}" but should not (RBAC: allowed by '
            f'RoleBinding "viewers/{namespace}" of ClusterRole "view" to Group "viewers")']
        if check and cluster.controls:
            assert [w for w in cluster.controls.writes() if "dryRun=All" not in w[2]] == []


BAD_INPUT = [
    ({"service_account": "nonamespace", "allowed": [{"verb": "get", "resource": "pods"}]},
     "Invalid value for option 'service_account': 'nonamespace' does not name a namespace and an account"),
    ({"user": "u", "allowed": [{"verb": "fetch", "resource": "pods"}]},
     "Invalid value for option 'allowed[0].verb': unknown verb 'fetch'"),
    ({"allowed": [{"verb": "get", "resource": "pods"}]}, "no identity is given"),
    ({"user": "u"}, "there is nothing to review"),
]


def test_bad_input_fails_clearly_and_asks_nothing(cluster, play):
    reset_request_log(cluster)
    assert_each_case_fails(play, BAD_INPUT, lambda name, options: review_task(name, **options))
    if cluster.controls:
        assert cluster.controls.requests() == []


@pytest.mark.emulator_only
def test_many_reviews_are_asked_over_several_connections_at_once(cluster, emulator, kube, namespace, play,
                                                                 cache_home, monkeypatch):
    """There is no batch review API; with a 0.2 s round trip, twelve questions one after the other
    would take 2.4 s or more."""
    import time

    from tests.playbook import load_module

    arrange_deployer(play, namespace)
    module = load_module("k8s_access_review")
    monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    actions = [{"verb": verb, "resource": resource, "group": "", "subresource": None, "namespace": None,
                "name": None} for verb in ("get", "list", "create") for resource in ("pods", "configmaps",
                                                                                   "secrets", "services")]
    params = {**{option: None for option in module.ARGUMENT_SPEC}, "kubeconfig": str(cluster.kubeconfig_path),
              "service_account": f"{namespace}:deployer", "namespace": namespace, "allowed": actions,
              "denied": [], "fail_on_mismatch": False}
    emulator.controls.set_latency(0.2)
    started = time.monotonic()
    result = module.ensure(params, False)
    elapsed = time.monotonic() - started
    emulator.controls.set_latency(0)
    reviews = [r for r in emulator.controls.requests() if r[1].endswith("/subjectaccessreviews")]
    assert len(reviews) == 12
    assert elapsed < 1.6, f"12 reviews took {elapsed:.2f} s"
    allowed = {(row["verb"], row["resource"]) for row in result["results"] if row["allowed"]}
    assert allowed == {("get", "pods"), ("list", "pods"), ("get", "configmaps"), ("list", "configmaps"),
                       ("create", "configmaps")}


@pytest.mark.emulator_only
def test_a_remembered_review_of_many_namespaces_costs_what_one_does(cluster, emulator, kube, play):
    """The record's no-op reads the RBAC kinds with one cluster-wide LIST each and the record with one
    GET, whether the questions are about one tenant namespace or five."""
    counts, made = {}, []
    try:
        for count in (1, 5):
            names = [cluster.unique_name("t") for _ in range(count)]
            made.extend(names)
            for name in names:
                kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            arrange = play([
                {"name": "accounts", "k8s_service_account": {"service_accounts": [
                    {"name": "deployer", "namespace": name} for name in names]}},
                {"name": "roles", "k8s_rbac": {"roles": [
                    {"name": "deployer", "namespace": name, "rules": DEPLOY_RULES,
                     "subjects": [{"name": "deployer"}]} for name in names]}},
            ])
            assert arrange.rc == 0, arrange.stdout
            reviews = [{"service_account": f"{name}:deployer",
                        "allowed": [{"verb": "list", "resource": "pods", "namespace": name}],
                        "denied": [{"verb": "list", "resource": "secrets", "namespace": name}]}
                       for name in names]
            task = {"name": "review", "k8s_access_review": {
                "reviews": reviews, "record": {"namespace": names[0], "name": "access-review"}}}
            first = play([task])
            assert first.rc == 0 and first.task("review").result["reviewed"], first.stdout
            emulator.controls.reset()
            again = play([task])
            assert again.rc == 0 and again.task("review").result["reviewed"] is False, again.stdout
            requests = emulator.controls.requests()
            assert emulator.controls.writes() == []
            assert sorted(path for _verb, path, _query in requests) == sorted([
                f"/api/v1/namespaces/{names[0]}/configmaps/access-review",
                *(f"/apis/{RBAC}/{plural}" for plural in ("clusterroles", "clusterrolebindings", "roles",
                                                          "rolebindings"))])
            counts[count] = len(requests)
    finally:
        for name in made:
            kube.delete("v1", "Namespace", name)
    assert counts[1] == counts[5], counts
