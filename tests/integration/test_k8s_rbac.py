"""k8s_rbac through real ansible-playbook runs, against the emulated cluster or the real one that
TEST_KUBECONFIG names (tests needing the emulator's request log are skipped there)."""

from __future__ import annotations

import pytest

from tests.integration.support import (
    as_field_manager,
    assert_each_case_fails,
    persisted_writes,
    reset_request_log,
)

RBAC = "rbac.authorization.k8s.io/v1"


@pytest.fixture
def cluster_wide_name(cluster, kube):
    """A unique name for cluster-scoped RBAC objects, which are deleted after the test."""
    name = cluster.unique_name("t6-crole")
    yield name
    for kind in ("ClusterRoleBinding", "ClusterRole"):
        kube.delete(RBAC, kind, name)


def rbac_task(task_name="rbac", **options):
    return {"name": task_name, "k8s_rbac": options}




DEPLOY_RULES = [
    {"api_groups": ["apps"], "resources": ["deployments", "statefulsets"],
     "verbs": ["get", "list", "create"]},
    {"api_groups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]


def deployer(namespace, **more):
    return {"name": "deployer", "namespace": namespace, "rules": DEPLOY_RULES,
            "subjects": [{"name": "deploy"}, {"kind": "User", "name": "alice"}], **more}


def test_create_a_role_and_its_binding_then_a_second_run_writes_nothing(cluster, kube, namespace, play):
    first = play([rbac_task(**deployer(namespace, labels={"app.kubernetes.io/part-of": "tekton-cd"}))],
                 diff=True)
    assert first.rc == 0, first.stdout
    task = first.task("rbac")
    assert task.changed and task.result["result"]["binding_replaced"] is False
    assert [d["before"] for d in task.diff] == [{}, {}]
    role = kube.get(RBAC, "Role", "deployer", namespace)
    assert role["rules"] == [
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"],
         "verbs": ["get", "list", "create"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]
    binding = kube.get(RBAC, "RoleBinding", "deployer", namespace)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "deploy", "namespace": namespace},
        {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
    ]
    assert binding["metadata"]["labels"] == {"app.kubernetes.io/part-of": "tekton-cd"}
    assert task.result["result"]["role"]["metadata"]["uid"] == role["metadata"]["uid"]

    reset_request_log(cluster)
    second = play([rbac_task(**deployer(namespace, labels={"app.kubernetes.io/part-of": "tekton-cd"}))])
    assert second.rc == 0, second.stdout
    assert not second.task("rbac").changed
    if cluster.controls:
        assert cluster.controls.writes() == []
        assert [r[:2] for r in cluster.controls.requests() if "/rbac.authorization.k8s.io/" in r[1]] == [
            ("GET", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/deployer"),
            ("GET", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings/deployer"),
        ]
    assert kube.get(RBAC, "Role", "deployer", namespace)["metadata"]["resourceVersion"] == \
        role["metadata"]["resourceVersion"]


def test_rules_change_in_place(kube, namespace, play):
    assert play([rbac_task(**deployer(namespace))]).rc == 0
    before = kube.get(RBAC, "Role", "deployer", namespace)
    narrower = [{"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["get"],
                 "resource_names": ["health-api"]}]
    changed = play([rbac_task(**deployer(namespace, rules=narrower))], diff=True)
    assert changed.rc == 0, changed.stdout
    task = changed.task("rbac")
    assert task.changed
    assert task.diff[0]["after"]["rules"] == [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"],
         "resourceNames": ["health-api"]}]
    after = kube.get(RBAC, "Role", "deployer", namespace)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["rules"] == task.diff[0]["after"]["rules"]


def test_a_role_tampered_with_by_hand_is_put_back(kube, namespace, play):
    assert play([rbac_task(**deployer(namespace))]).rc == 0
    # Someone grants an extra verb by editing the Role through the API (a PUT, as kubectl edit does).
    hand = as_field_manager(kube, "kubectl-edit")
    hand.update(RBAC, "Role", "deployer", namespace, lambda role: role["rules"][0]["verbs"].append("delete"))
    assert "delete" in kube.get(RBAC, "Role", "deployer", namespace)["rules"][0]["verbs"]

    # Put back, then ensured once more in the same play (each task is a run of the module of its own).
    restored = play([rbac_task(**deployer(namespace)), rbac_task("again", **deployer(namespace))], diff=True)
    assert restored.rc == 0, restored.stdout
    task = restored.task("rbac")
    assert task.changed
    assert "delete" in task.diff[0]["before"]["rules"][0]["verbs"]
    assert kube.get(RBAC, "Role", "deployer", namespace)["rules"][0]["verbs"] == ["get", "list", "create"]
    assert not restored.task("again").changed


def test_a_changed_role_ref_replaces_the_binding_and_says_so(cluster, kube, namespace, play):
    assert play([rbac_task(**deployer(namespace))]).rc == 0
    old = kube.get(RBAC, "RoleBinding", "deployer", namespace)
    as_view = {"name": "deployer", "namespace": namespace, "cluster_role": "view",
               "subjects": [{"name": "deploy"}]}

    reset_request_log(cluster)
    preview = play([rbac_task(**as_view)], check=True, diff=True)
    assert preview.rc == 0, preview.stdout
    assert preview.task("rbac").changed and preview.task("rbac").result["result"]["binding_replaced"]
    assert kube.get(RBAC, "RoleBinding", "deployer", namespace)["metadata"]["uid"] == old["metadata"]["uid"]
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []

    replaced = play([rbac_task(**as_view), rbac_task("again", **as_view)], diff=True)
    assert replaced.rc == 0, replaced.stdout
    task = replaced.task("rbac")
    assert task.changed and task.result["result"]["binding_replaced"] is True
    assert task.result["result"]["role"] is None
    (diff,) = task.diff
    assert "roleRef Role 'deployer' (deleted: roleRef is immutable)" in diff["before_header"]
    assert "roleRef ClusterRole 'view' (created again in its place)" in diff["after_header"]
    assert diff["before"]["roleRef"]["kind"] == "Role" and diff["after"]["roleRef"]["kind"] == "ClusterRole"
    new = kube.get(RBAC, "RoleBinding", "deployer", namespace)
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert new["roleRef"]["name"] == "view" and new["subjects"] == [
        {"kind": "ServiceAccount", "name": "deploy", "namespace": namespace}]
    # The Role itself is another spec's business now: it stays.
    assert kube.get(RBAC, "Role", "deployer", namespace) is not None
    assert not replaced.task("again").changed


def test_one_task_for_a_namespaced_role_an_admin_binding_and_a_cluster_role(
        cluster, kube, namespace, cluster_wide_name, play):
    specs = [
        {"name": "deployer", "rules": DEPLOY_RULES, "subjects": [{"name": "deploy"}]},
        {"name": "namespace-admin", "cluster_role": "admin", "subjects": [{"name": "admin"}]},
    ]
    cluster_wide = {"name": cluster_wide_name,
                    "rules": [{"api_groups": ["tekton.dev"], "resources": ["pipelineruns"],
                               "verbs": ["list"]}],
                    "subjects": [{"kind": "Group", "name": "release-managers"},
                                 {"name": "deploy", "namespace": namespace}]}
    run = play([rbac_task("namespaced", namespace=namespace, roles=specs),
                rbac_task("cluster-wide", **cluster_wide)])
    assert run.rc == 0, run.stdout
    results = run.task("namespaced").result["results"]
    assert [(r["role"] or {}).get("kind") for r in results] == ["Role", None]
    assert [r["binding"]["roleRef"]["name"] for r in results] == ["deployer", "admin"]
    admin_binding = kube.get(RBAC, "RoleBinding", "namespace-admin", namespace)
    assert admin_binding["roleRef"]["kind"] == "ClusterRole"
    assert kube.get(RBAC, "ClusterRole", cluster_wide_name)["rules"][0]["resources"] == ["pipelineruns"]
    assert kube.get(RBAC, "ClusterRoleBinding", cluster_wide_name)["subjects"][0] == {
        "kind": "Group", "name": "release-managers", "apiGroup": "rbac.authorization.k8s.io"}

    reset_request_log(cluster)
    again = play([rbac_task("namespaced", namespace=namespace, roles=specs),
                  rbac_task("cluster-wide", **cluster_wide)])
    assert again.rc == 0 and again.changed == []
    if cluster.controls:
        assert cluster.controls.writes() == []

    removed = play([rbac_task("namespaced", namespace=namespace, roles=specs, state="absent"),
                    rbac_task("cluster-wide", name=cluster_wide_name, state="absent"),
                    rbac_task("namespaced again", namespace=namespace, roles=specs, state="absent")])
    assert removed.rc == 0, removed.stdout
    assert removed.task("namespaced").changed and removed.task("cluster-wide").changed
    for kind, name, ns in [("Role", "deployer", namespace), ("RoleBinding", "deployer", namespace),
                           ("RoleBinding", "namespace-admin", namespace),
                           ("ClusterRole", cluster_wide_name, None),
                           ("ClusterRoleBinding", cluster_wide_name, None)]:
        assert kube.get(RBAC, kind, name, ns) is None, (kind, name)
    assert kube.get(RBAC, "ClusterRole", "admin") is not None  # bound, never owned: never deleted
    assert not removed.task("namespaced again").changed


def test_check_mode_writes_nothing(cluster, kube, namespace, play):
    reset_request_log(cluster)
    would_create = play([rbac_task(**deployer(namespace))], check=True, diff=True)
    assert would_create.rc == 0, would_create.stdout
    assert would_create.task("rbac").changed
    assert would_create.task("rbac").diff[0]["after"]["rules"][1]["resources"] == ["pods/log"]
    assert kube.get(RBAC, "Role", "deployer", namespace) is None
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []

    assert play([rbac_task(**deployer(namespace))]).rc == 0
    before = kube.get(RBAC, "Role", "deployer", namespace)
    would = play([rbac_task("change", **deployer(namespace, rules=DEPLOY_RULES[:1])),
                  rbac_task("delete", name="deployer", namespace=namespace, state="absent")], check=True)
    assert would.rc == 0 and would.task("change").changed and would.task("delete").changed
    assert kube.get(RBAC, "Role", "deployer", namespace) == before
    assert kube.get(RBAC, "RoleBinding", "deployer", namespace) is not None


def test_check_mode_before_the_namespace_and_cluster_role_exist_warns(cluster, play):
    missing = cluster.unique_name("t6-missing")
    reset_request_log(cluster)
    run = play([rbac_task(name="admins", namespace=missing, cluster_role=f"{missing}-role",
                          subjects=[{"name": "x"}])], check=True, diff=True)
    assert run.rc == 0, run.stdout
    task = run.task("rbac")
    assert task.changed and task.diff[0]["after"]["roleRef"]["name"] == f"{missing}-role"
    warnings = " ".join(task.result.get("warnings", []))
    assert f'namespace "{missing}" does not exist' in warnings.lower()
    assert f'ClusterRole "{missing}-role" (to bind) does not exist' in warnings
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []


BAD_INPUT = [
    ({"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["get", "destroy"]}]},
     "Invalid value for option 'rules[0].verbs': unknown verb 'destroy'; use one of get, list, watch"),
    ({"rules": []}, "Invalid value for option 'rules': the role 'bad' has no rules"),
    ({"rules": [{"api_groups": [""], "resources": ["pods"]}]}, "missing required arguments: verbs"),
    ({"cluster_role": "no-such-cluster-role", "subjects": [{"name": "x"}]},
     'Cannot ensure the RBAC objects: ClusterRole "no-such-cluster-role" (to bind) does not exist; create it '
     "first, or correct cluster_role."),
    ({"roles": [{"name": "ok", "rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["get"]}]},
                {"name": "bad",
                 "rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["*", "gett"]}]}]},
     "Invalid value for option 'roles[1].rules[0].verbs': unknown verb 'gett'"),
]


def test_bad_input_fails_clearly_and_writes_nothing(cluster, kube, namespace, play):
    reset_request_log(cluster)
    assert_each_case_fails(play, BAD_INPUT, lambda name, options: rbac_task(
        name, namespace=namespace, **(options if "roles" in options else {"name": "bad", **options})))
    assert kube.list(RBAC, "Role", namespace) == [] and kube.list(RBAC, "RoleBinding", namespace) == []
    if cluster.controls:
        assert cluster.controls.writes() == []


def test_a_missing_namespace_fails_before_any_write(cluster, kube, play):
    missing = cluster.unique_name("t6-missing")
    reset_request_log(cluster)
    run = play([rbac_task(**deployer(missing))])
    assert run.rc != 0
    assert run.task("rbac").msg == (f'Cannot ensure the RBAC objects: namespace "{missing}" does not exist; '
                                    "create it first (module k8s_namespace).")
    if cluster.controls:
        assert cluster.controls.writes() == []


@pytest.mark.emulator_only
def test_a_no_op_for_roles_in_many_namespaces_lists_each_kind_once(cluster, emulator, kube, play):
    counts = {}
    made = []
    try:
        for count in (1, 5):
            label = cluster.unique_name("set")
            names = [cluster.unique_name("t") for _ in range(count)]
            for name in names:
                kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            made.extend(names)
            roles = [deployer(name, labels={"tenant-set": label}) for name in names]
            assert play([rbac_task(roles=roles)]).rc == 0
            emulator.controls.reset()
            again = play([rbac_task(roles=roles)])
            assert again.rc == 0 and not again.task("rbac").changed, again.stdout
            assert emulator.controls.writes() == []
            requests = emulator.controls.requests()
            reads = [(path, query) for _verb, path, query in requests
                     if "/roles" in path or "/rolebindings" in path]
            where = f"/apis/{RBAC}/namespaces/{names[0]}" if count == 1 else f"/apis/{RBAC}"
            if count == 1:  # one Role and one RoleBinding: a GET each
                assert reads == [(f"{where}/roles/deployer", ""), (f"{where}/rolebindings/deployer", "")]
            else:
                selector = f"labelSelector=tenant-set%3D{label}"
                assert reads == [(f"{where}/roles", selector), (f"{where}/rolebindings", selector)]
            counts[count] = len(requests)
    finally:
        for name in made:
            kube.delete("v1", "Namespace", name)
    assert counts[1] == counts[5], counts
