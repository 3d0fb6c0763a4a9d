"""ibmcloud_auth and ibmcloud_cluster_config run by a real ansible-playbook against the fake IBM
Cloud: results, failures, retries, dest files, check mode, idempotence, and no secret in output
or in files left behind (at -vvv)."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
import yaml

from tests.ibmcloud_fixtures import FakeIBMCloud, fake_ibmcloud, ibmcloud_target_cluster  # noqa: F401
from tests.playbook import isolated_environment, run_tasks


def run(tasks, workdir: Path, env: dict[str, str], **options):
    """tests.playbook.run_tasks in `workdir`, isolated there (tests.playbook.isolated_environment)."""
    return run_tasks(tasks, tmp_path=workdir, env={**isolated_environment(workdir), **env}, **options)


def _env(fake: FakeIBMCloud, api_key: str | None = None) -> dict[str, str]:
    return {**fake.env(), "IC_API_KEY": api_key or fake.api_key}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_auth_returns_the_token_only_to_a_no_log_task(fake_ibmcloud, tmp_path):  # noqa: F811
    play = run([
        {"name": "Log in", "ibmcloud_auth": {}, "no_log": True, "register": "login"},
        {"name": "Log in without no_log", "ibmcloud_auth": {}, "register": "shown"},
        {"name": "Check what each got", "ansible.builtin.assert": {"that": [
            "login.access_token.split('.') | length == 3",
            "login.account_id == account",
            "shown.account_id == account",
            "shown.access_token is not defined",
            "shown.expiration > 0",
        ]}},
    ], tmp_path, _env(fake_ibmcloud), extra_vars={"account": fake_ibmcloud.account_id})
    assert play.rc == 0, play.stdout + play.stderr
    assert play.task("Log in").result["censored"].startswith("the output has been hidden")
    assert "left out of the result because the task does not set no_log: true" in play.stdout + play.stderr
    assert play.changed == []


def test_rejected_key_fails_with_ibms_error_code(fake_ibmcloud, tmp_path):  # noqa: F811
    play = run([{"name": "Log in", "ibmcloud_auth": {}}], tmp_path, _env(fake_ibmcloud, "wrong-key-123"))
    assert play.rc != 0
    message = play.failed[0].msg
    assert "BXNIM0415E" in message and "Provided API key could not be found" in message
    assert "wrong-key-123" not in play.stdout + play.stderr


def test_missing_key_is_one_clear_sentence(fake_ibmcloud, tmp_path):  # noqa: F811
    env = fake_ibmcloud.env()
    play = run([{"name": "Log in", "ibmcloud_auth": {}}], tmp_path, env)
    assert play.rc != 0
    assert play.failed[0].msg == ("No IBM Cloud API key was given; set the api_key option or the "
                                  "IC_API_KEY / IBMCLOUD_API_KEY environment variable.")


def test_iks_cluster_config_check_mode_dest_and_idempotence(fake_ibmcloud, tmp_path):  # noqa: F811
    cluster = fake_ibmcloud.add_cluster("dev-iks")
    dest = tmp_path / "kube" / "dev.yml"
    dest.parent.mkdir()
    tasks = [
        {"name": "Get the cluster's kubeconfig", "no_log": True, "register": "login",
         "ibmcloud_cluster_config": {"cluster": "dev-iks", "dest": str(dest), "namespace": "ci"}},
        {"name": "Check facts and kubeconfig", "ansible.builtin.assert": {"that": [
            "login.cluster.id == cluster_id",
            "login.cluster.type == 'kubernetes'",
            "login.cluster.ingress_hostname == ingress_hostname",
            "login.cluster.ingress_secret == ingress_secret",
            "login.kubeconfig.clusters[0].cluster.server == server",
            "login.kubeconfig.users[0].user.token | hash('sha256') == token_sha256",
            "login.kubeconfig.contexts[0].context.namespace == 'ci'",
        ]}},
    ]
    extra = {"cluster_id": cluster.id, "ingress_hostname": cluster.ingress_hostname,
             "ingress_secret": cluster.ingress_secret, "server": fake_ibmcloud.target.url,
             "token_sha256": _sha256(fake_ibmcloud.target.token)}
    checked = run(tasks, tmp_path / "check", _env(fake_ibmcloud), check=True, extra_vars=extra)
    assert checked.rc == 0, checked.stdout + checked.stderr
    assert [t.name for t in checked.changed] == ["Get the cluster's kubeconfig"] and not dest.exists()

    first = run(tasks, tmp_path / "first", _env(fake_ibmcloud), extra_vars=extra)
    assert first.rc == 0, first.stdout + first.stderr
    assert len(first.changed) == 1
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    written = yaml.safe_load(dest.read_text())
    assert written["users"][0]["user"]["token"] == fake_ibmcloud.target.token
    assert written["clusters"][0]["cluster"]["server"] == fake_ibmcloud.target.url

    second = run(tasks, tmp_path / "second", _env(fake_ibmcloud), extra_vars=extra)
    assert second.rc == 0 and second.changed == []


def test_admin_config_carries_the_admin_credentials(fake_ibmcloud, tmp_path):  # noqa: F811
    fake_ibmcloud.add_cluster("dev-iks")
    play = run([
        {"name": "Get the admin kubeconfig", "no_log": True, "register": "admin_login",
         "ibmcloud_cluster_config": {"cluster": "dev-iks", "admin": True}},
        {"name": "Check it", "ansible.builtin.assert": {"that": [
            "admin_login.kubeconfig.users[0].name == 'dev-iks-admin'",
            "admin_login.kubeconfig.users[0].user.token | hash('sha256') == token_sha256",
        ]}},
    ], tmp_path, _env(fake_ibmcloud), extra_vars={"token_sha256": _sha256(fake_ibmcloud.target.admin_token)})
    assert play.rc == 0, play.stdout + play.stderr


def test_openshift_cluster_gets_an_oauth_token(fake_ibmcloud, tmp_path):  # noqa: F811
    cluster = fake_ibmcloud.add_cluster("prod-roks", type="openshift")
    env = {**_env(fake_ibmcloud),
           "IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT": fake_ibmcloud.openshift_oauth_endpoint(cluster)}
    play = run([
        {"name": "Get the cluster's kubeconfig", "no_log": True, "register": "login",
         "ibmcloud_cluster_config": {"cluster": cluster.id}},
        {"name": "Check it", "ansible.builtin.assert": {"that": [
            "login.cluster.type == 'openshift'",
            "login.cluster.version is search('openshift')",
            "login.kubeconfig.users[0].user.token | hash('sha256') == token_sha256",
            "login.token_expiration > 0",
        ]}},
    ], tmp_path, env, extra_vars={"token_sha256": _sha256(fake_ibmcloud.target.token)})
    assert play.rc == 0, play.stdout + play.stderr
    assert ("oauth", "GET", f"/openshift/{cluster.id}/oauth/authorize", 302) in [
        (r.service, r.method, r.path, r.status) for r in fake_ibmcloud.requests
    ]


def test_unknown_cluster_names_the_clusters_the_key_can_see(fake_ibmcloud, tmp_path):  # noqa: F811
    fake_ibmcloud.add_cluster("dev-iks")
    fake_ibmcloud.add_cluster("prod-roks", type="openshift")
    fake_ibmcloud.add_cluster("hidden", other_account=True)
    play = run([{"name": "Get a kubeconfig", "ibmcloud_cluster_config": {"cluster": "staging"}}],
               tmp_path, _env(fake_ibmcloud))
    assert play.rc != 0
    message = play.failed[0].msg
    assert message.startswith("Cluster 'staging' was not found for this API key's account (HTTP 404, G0004")
    assert "dev-iks (" in message and "prod-roks (" in message and "hidden" not in message


def test_rate_limits_and_server_errors_are_retried(fake_ibmcloud, tmp_path):  # noqa: F811
    fake_ibmcloud.add_cluster("dev-iks")
    fake_ibmcloud.fail_next(1, 500, "iam")
    fake_ibmcloud.fail_next(1, 503, "containers")
    fake_ibmcloud.fail_next(2, 429, "containers")
    task = {"name": "Get facts", "ibmcloud_cluster_config": {"cluster": "dev-iks"}, "register": "c"}
    play = run([task], tmp_path, _env(fake_ibmcloud))
    assert play.rc == 0, play.stdout + play.stderr
    assert play.task("Get facts").result["cluster"]["name"] == "dev-iks"
    assert [r.status for r in fake_ibmcloud.requests][:6] == [500, 200, 503, 429, 429, 200]
    assert fake_ibmcloud.faults.pending() == 0


def _files_under(directory: Path):
    for path in directory.rglob("*"):
        if path.is_file():
            yield path


def test_verbose_run_leaks_neither_key_nor_tokens(fake_ibmcloud, tmp_path):  # noqa: F811
    fake_ibmcloud.add_cluster("dev-iks")
    roks = fake_ibmcloud.add_cluster("prod-roks", type="openshift")
    dest = tmp_path / "kubeconfig.yml"
    env = {**_env(fake_ibmcloud),
           "IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT": fake_ibmcloud.openshift_oauth_endpoint(roks)}
    tasks = [
        {"name": "Log in", "ibmcloud_auth": {}, "no_log": True, "register": "login"},
        {"name": "Log in, visible", "ibmcloud_auth": {}, "register": "visible_login"},
        {"name": "Kubeconfig in memory", "ibmcloud_cluster_config": {"cluster": "dev-iks"},
         "no_log": True, "register": "iks"},
        {"name": "Facts only, visible", "ibmcloud_cluster_config": {"cluster": "prod-roks", "admin": False},
         "register": "roks_facts"},
        {"name": "Kubeconfig to a file",
         "ibmcloud_cluster_config": {"cluster": "prod-roks", "dest": str(dest)}},
        {"name": "Keep the connection as a fact", "no_log": True,
         "ansible.builtin.set_fact": {"connection": "{{ iks.kubeconfig }}"}},
        {"name": "Show what is safe to show", "ansible.builtin.debug": {
            "msg": "{{ iks.cluster.ingress_hostname }} {{ connection.clusters[0].cluster.server }}"}},
        {"name": "A wrong key in a task argument", "ignore_errors": True,
         "ibmcloud_auth": {"api_key": "{{ lookup('ansible.builtin.env', 'WRONG_KEY') }}"}},
    ]
    play = run(tasks, tmp_path / "run", {**env, "WRONG_KEY": "wrong-key-4711-abcdef"}, verbosity=3)
    assert play.rc == 0, play.stdout + play.stderr
    output = play.stdout + play.stderr
    assert fake_ibmcloud.target.url in output  # the debug task did run and print
    secrets = fake_ibmcloud.secrets() + ["wrong-key-4711-abcdef"]
    assert len(fake_ibmcloud.iam.issued_tokens()) >= 4
    for secret in secrets:
        assert secret not in output, "a secret reached the output of ansible-playbook -vvv"
    for path in _files_under(tmp_path / "run"):
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret was left in {path.relative_to(tmp_path)}"
    # The file asked for holds the cluster token (its purpose) and nothing else secret.
    written = dest.read_text()
    assert fake_ibmcloud.target.token in written
    assert fake_ibmcloud.api_key not in written
    assert not any(token in written for token in fake_ibmcloud.iam.issued_tokens())


def test_every_kubeconfig_reaches_the_kubernetes_api(fake_ibmcloud, tmp_path):  # noqa: F811
    if not fake_ibmcloud.target.live:
        pytest.skip("no live Kubernetes API behind the fake's clusters")
    fake_ibmcloud.add_cluster("dev-iks")
    roks = fake_ibmcloud.add_cluster("prod-roks", type="openshift")
    env = {**_env(fake_ibmcloud),
           "IBMCLOUD_OPENSHIFT_OAUTH_ENDPOINT": fake_ibmcloud.openshift_oauth_endpoint(roks)}
    configs = {"iks-user": ("dev-iks", False), "iks-admin": ("dev-iks", True),
               "roks-user": ("prod-roks", False)}
    tasks = [{"name": f"Write {name}", "ibmcloud_cluster_config": {
        "cluster": cluster, "admin": admin, "dest": str(tmp_path / f"{name}.yml")}}
        for name, (cluster, admin) in configs.items()]
    play = run(tasks, tmp_path / "run", env)
    assert play.rc == 0, play.stdout + play.stderr
    from kubernetes import client, config

    for name in configs:
        api = config.new_client_from_config(str(tmp_path / f"{name}.yml"))
        names = [item.metadata.name for item in client.CoreV1Api(api).list_namespace().items]
        assert "default" in names, name
