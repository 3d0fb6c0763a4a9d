"""k8s_service_account through real ansible-playbook runs, against the emulated cluster or the real one
that TEST_KUBECONFIG names (tests needing the emulator's request log are skipped there)."""

from __future__ import annotations

import pytest
import yaml

from tests.integration.support import (
    as_field_manager,
    assert_each_case_fails,
    persisted_writes,
    reset_request_log,
)


def accounts_task(task_name="accounts", **options):
    return {"name": task_name, "k8s_service_account": options}


PIPELINE_ACCOUNTS = [
    {"name": "builder", "secrets": ["git-credentials", "registry-push"], "labels": {"duty": "build"}},
    {"name": "deployer", "image_pull_secrets": ["registry-pull"], "automount_token": False},
    {"name": "namespace-admin"},
]


def test_create_several_then_a_second_run_reads_once_and_writes_nothing(cluster, kube, namespace, play):
    first = play([accounts_task(namespace=namespace, service_accounts=PIPELINE_ACCOUNTS)], diff=True)
    assert first.rc == 0, first.stdout
    task = first.task("accounts")
    assert task.changed
    names = [r["metadata"]["name"] for r in task.result["results"]]
    assert names == ["builder", "deployer", "namespace-admin"]
    assert [d["before"] for d in task.diff] == [{}, {}, {}]
    builder, deployer = kube.get("v1", "ServiceAccount", "builder", namespace), \
        kube.get("v1", "ServiceAccount", "deployer", namespace)
    assert builder["secrets"] == [{"name": "git-credentials"}, {"name": "registry-push"}]
    assert builder["metadata"]["labels"] == {"duty": "build"}
    assert deployer["imagePullSecrets"] == [{"name": "registry-pull"}]
    assert deployer["automountServiceAccountToken"] is False
    versions = {name: kube.get("v1", "ServiceAccount", name, namespace)["metadata"]["resourceVersion"]
                for name in ("builder", "deployer", "namespace-admin")}

    reset_request_log(cluster)
    second = play([accounts_task(namespace=namespace, service_accounts=PIPELINE_ACCOUNTS)])
    assert second.rc == 0, second.stdout
    assert not second.task("accounts").changed
    if cluster.controls:
        assert cluster.controls.writes() == []
        reads = [r[:2] for r in cluster.controls.requests() if "/serviceaccounts" in r[1]]
        assert reads == [("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts")]
    assert {name: kube.get("v1", "ServiceAccount", name, namespace)["metadata"]["resourceVersion"]
            for name in versions} == versions


@pytest.mark.emulator_only
def test_a_no_op_run_of_one_account_is_one_get(cluster, emulator, namespace, play):
    assert play([accounts_task(name="solo", namespace=namespace, labels={"a": "b"})]).rc == 0
    cluster.controls.reset()
    again = play([accounts_task(name="solo", namespace=namespace, labels={"a": "b"})])
    assert again.rc == 0 and not again.task("accounts").changed
    assert cluster.controls.writes() == []
    assert [r[:2] for r in cluster.controls.requests() if "/serviceaccounts" in r[1]] == [
        ("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/solo")]


def test_update_in_place_keeps_secrets_others_added(kube, namespace, play):
    assert play([accounts_task(name="builder", namespace=namespace, labels={"a": "1", "b": "2"},
                               secrets=["git"], image_pull_secrets=["pull-a"])]).rc == 0
    before = kube.get("v1", "ServiceAccount", "builder", namespace)
    # Another tool links one more mountable secret (secrets is a list keyed by name: shared safely).
    as_field_manager(kube, "someone-else").apply(
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "builder", "namespace": namespace}, "secrets": [{"name": "theirs"}]})

    changed = play([accounts_task(name="builder", namespace=namespace, labels={"a": "3"},
                                  secrets=["git", "registry"], image_pull_secrets=[], automount_token=True)],
                   diff=True)
    assert changed.rc == 0, changed.stdout
    task = changed.task("accounts")
    assert task.changed
    assert task.diff["before"]["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert task.diff["after"]["metadata"]["labels"] == {"a": "3"}
    after = kube.get("v1", "ServiceAccount", "builder", namespace)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert sorted(s["name"] for s in after["secrets"]) == ["git", "registry", "theirs"]
    assert "imagePullSecrets" not in after  # the empty list removed what this task had set
    assert after["automountServiceAccountToken"] is True


def test_pull_secrets_edited_by_hand_conflict_unless_forced(kube, namespace, play):
    assert play([accounts_task(name="deployer", namespace=namespace, image_pull_secrets=["ours"])]).rc == 0
    kube.update("v1", "ServiceAccount", "deployer", namespace,
                lambda sa: sa.update(imagePullSecrets=[{"name": "ours"}, {"name": "by-hand"}]))
    refused = play([accounts_task(name="deployer", namespace=namespace, image_pull_secrets=["ours"])])
    assert refused.rc != 0
    assert "force_conflicts: true" in refused.task("accounts").msg
    forced = play([accounts_task(name="deployer", namespace=namespace, image_pull_secrets=["ours"],
                                 force_conflicts=True)])
    assert forced.rc == 0 and forced.task("accounts").changed
    assert kube.get("v1", "ServiceAccount", "deployer", namespace)["imagePullSecrets"] == [{"name": "ours"}]


def test_delete_then_delete_again(kube, namespace, play):
    assert play([accounts_task(namespace=namespace, service_accounts=PIPELINE_ACCOUNTS)]).rc == 0
    removed = play([accounts_task(namespace=namespace, state="absent",
                                  service_accounts=[{"name": "builder"}, {"name": "deployer"}])], diff=True)
    assert removed.rc == 0, removed.stdout
    task = removed.task("accounts")
    assert task.changed and task.result["results"] == [{}, {}]
    assert task.diff[0]["before"]["metadata"]["name"] == "builder" and task.diff[0]["after"] == {}
    assert kube.get("v1", "ServiceAccount", "builder", namespace) is None
    assert kube.get("v1", "ServiceAccount", "namespace-admin", namespace) is not None
    again = play([accounts_task(name="builder", namespace=namespace, state="absent")])
    assert again.rc == 0 and not again.task("accounts").changed


def test_check_mode_writes_nothing(cluster, kube, namespace, play):
    reset_request_log(cluster)
    would_create = play([accounts_task(namespace=namespace, service_accounts=PIPELINE_ACCOUNTS)], check=True,
                        diff=True)
    assert would_create.rc == 0, would_create.stdout
    assert would_create.task("accounts").changed
    assert would_create.task("accounts").diff[1]["after"]["imagePullSecrets"] == [{"name": "registry-pull"}]
    assert kube.list("v1", "ServiceAccount", namespace, field_selector="metadata.name=deployer") == []
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []

    assert play([accounts_task(namespace=namespace, service_accounts=PIPELINE_ACCOUNTS)]).rc == 0
    before = kube.get("v1", "ServiceAccount", "deployer", namespace)
    would_change = play([accounts_task(name="deployer", namespace=namespace, image_pull_secrets=["other"])],
                        check=True, diff=True)
    assert would_change.rc == 0 and would_change.task("accounts").changed
    assert would_change.task("accounts").diff["after"]["imagePullSecrets"] == [{"name": "other"}]
    would_delete = play([accounts_task(name="deployer", namespace=namespace, state="absent")], check=True)
    assert would_delete.rc == 0 and would_delete.task("accounts").changed
    assert kube.get("v1", "ServiceAccount", "deployer", namespace) == before


def test_check_mode_in_a_namespace_not_created_yet_warns(cluster, kube, play):
    missing = cluster.unique_name("t6-missing")
    reset_request_log(cluster)
    run = play([accounts_task(name="builder", namespace=missing)], check=True, diff=True)
    assert run.rc == 0, run.stdout
    task = run.task("accounts")
    assert task.changed and task.diff["after"]["metadata"] == {"name": "builder", "namespace": missing}
    assert f'Namespace "{missing}" does not exist (yet)' in " ".join(task.result.get("warnings", []))
    if cluster.controls:
        assert persisted_writes(cluster.controls) == []


BAD_INPUT = [
    ({"name": "Builder"}, "Invalid value for option 'name': 'Builder' is not a valid service account name"),
    ({"name": "b", "labels": {"n": 5}}, "the value of 'n' is int 5, not a string"),
    ({"name": "b", "secrets": ["not valid"]}, "option 'secrets': 'not valid' is not a valid secret name"),
    ({"service_accounts": [{"name": "a"}], "labels": {"x": "y"}}, "'labels': it cannot be combined"),
    ({"name": "b", "service_accounts": [{"name": "a", "colour": "red"}]}, "colour"),
]


def test_bad_input_fails_clearly_and_writes_nothing(cluster, kube, namespace, play):
    reset_request_log(cluster)
    assert_each_case_fails(play, BAD_INPUT,
                           lambda name, options: accounts_task(name, namespace=namespace, **options))
    assert kube.list("v1", "ServiceAccount", namespace, field_selector="metadata.name!=default") == []
    if cluster.controls:
        assert cluster.controls.writes() == []


def test_a_missing_namespace_fails_before_any_write(cluster, kube, play):
    missing = cluster.unique_name("t6-missing")
    reset_request_log(cluster)
    run = play([accounts_task(namespace=missing, service_accounts=[{"name": "a"}, {"name": "b"}])])
    assert run.rc != 0
    assert run.task("accounts").msg == (
        f'Cannot create ServiceAccount "a" in namespace "{missing}": the namespace "{missing}" does not '
        "exist; create it first (module k8s_namespace).")
    assert kube.get("v1", "Namespace", missing) is None
    if cluster.controls:
        assert cluster.controls.writes() == []


# -- accounts in several namespaces: one label-selected LIST per run ----------------------------

@pytest.fixture
def namespaces(cluster, kube):
    """namespaces(count): that many fresh namespaces, deleted (without waiting) after the test."""
    made = []

    def make(count):
        names = [cluster.unique_name("t") for _ in range(count)]
        for name in names:
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        made.extend(names)
        return names

    yield make
    for name in made:
        kube.delete("v1", "Namespace", name)


def tenant_accounts(names, label):
    return [{"name": account, "namespace": namespace, "labels": {"tenant-set": label}}
            for namespace in names for account in ("builder", "deployer")]


@pytest.mark.emulator_only
def test_a_no_op_sends_as_many_requests_for_one_namespace_as_for_ten(cluster, emulator, namespaces, play):
    counts = {}
    for count in (1, 5, 10):
        label = cluster.unique_name("set")
        entries = tenant_accounts(namespaces(count), label)
        assert play([accounts_task(service_accounts=entries)]).rc == 0
        emulator.controls.reset()
        again = play([accounts_task(service_accounts=entries)])
        assert again.rc == 0 and not again.task("accounts").changed
        requests = emulator.controls.requests()
        assert emulator.controls.writes() == []
        reads = [(verb, path) for verb, path, _query in requests if "/serviceaccounts" in path]
        where = f"/api/v1/namespaces/{entries[0]['namespace']}" if count == 1 else "/api/v1"
        assert reads == [("GET", f"{where}/serviceaccounts")]  # a LIST; no GET of one account
        assert [query for _verb, path, query in requests if "/serviceaccounts" in path] == [
            f"labelSelector=tenant-set%3D{label}"]
        counts[count] = len(requests)
    assert counts[1] == counts[5] == counts[10], counts


def test_accounts_in_several_namespaces_with_a_default_namespace(kube, namespace, namespaces, play):
    other = namespaces(1)[0]
    entries = [{"name": "builder"}, {"name": "builder", "namespace": other, "labels": {"a": "b"}}]
    first = play([accounts_task(namespace=namespace, service_accounts=entries)], diff=True)
    assert first.rc == 0, first.stdout
    assert [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in first.task("accounts").result[
        "results"]] == [(namespace, "builder"), (other, "builder")]
    assert kube.get("v1", "ServiceAccount", "builder", other)["metadata"]["labels"] == {"a": "b"}
    assert kube.get("v1", "ServiceAccount", "builder", namespace) is not None
    again = play([accounts_task(namespace=namespace, service_accounts=entries)])
    assert again.rc == 0 and not again.task("accounts").changed


def test_an_account_that_lacks_the_labels_yet_is_read_and_shown_as_it_was(cluster, kube, namespaces, play):
    first, second = namespaces(2)
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "builder", "namespace": second}})  # there, unlabelled
    reset_request_log(cluster)
    entries = [{"name": "builder", "namespace": ns, "labels": {"tenant": "yes"}} for ns in (first, second)]
    run = play([accounts_task(service_accounts=entries)], diff=True)
    assert run.rc == 0, run.stdout
    diffs = run.task("accounts").diff
    assert diffs[0]["before"] == {}
    assert diffs[1]["before"]["metadata"] == {"name": "builder", "namespace": second}
    assert diffs[1]["after"]["metadata"]["labels"] == {"tenant": "yes"}
    if cluster.controls:
        gets = [path for verb, path, _query in cluster.controls.requests()
                if verb == "GET" and "/serviceaccounts/" in path]
        assert sorted(gets) == sorted(f"/api/v1/namespaces/{ns}/serviceaccounts/builder"
                                      for ns in (first, second))


def test_a_namespace_scoped_identity_lists_each_namespace(cluster, kube, namespaces, play, tmp_path):
    """Credentials bound in each namespace only may not list across namespaces (403): read_all then
    lists each namespace, and the task still succeeds, and a re-run changes nothing."""
    home, other = namespaces(2)
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "operator", "namespace": home}})
    for ns in (home, other):
        kube.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "operator-admin", "namespace": ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": "admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": home}]})
    answer = kube.create({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                          "spec": {"expirationSeconds": 600}},
                         namespace=home, subresource_of=("v1", "ServiceAccount", "operator", "token"))
    scoped = tmp_path / "scoped.kubeconfig"
    scoped.write_text(yaml.safe_dump(cluster.kubeconfig_with_token(answer["status"]["token"])))
    entries = tenant_accounts((home, other), "scoped")
    assert play([accounts_task(service_accounts=entries)], kubeconfig=scoped).rc == 0
    reset_request_log(cluster)
    again = play([accounts_task(service_accounts=entries)], kubeconfig=scoped)
    assert again.rc == 0 and not again.task("accounts").changed, again.stdout
    if cluster.controls:
        assert cluster.controls.writes() == []
        reads = [path for _verb, path, _query in cluster.controls.requests() if "/serviceaccounts" in path]
        assert reads == ["/api/v1/serviceaccounts", *(f"/api/v1/namespaces/{ns}/serviceaccounts"
                                                      for ns in sorted((home, other)))]
