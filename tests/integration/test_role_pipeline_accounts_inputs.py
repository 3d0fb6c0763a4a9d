"""Bad values of the pipeline_accounts role's variables: each class of mistake fails the run at its
start, with one sentence naming the variable and where it is set, before any request reaches the
cluster (the emulator's request log stays empty, so there is no write either).

Wrong types are refused by the role's argument spec (Ansible's own check at role start); what an
argument spec cannot say (ranges, empty lists, name syntax, rules between variables) is refused by
the role's first task, which runs every later module task's own validation offline.
"""

from __future__ import annotations

import pytest

from tests.playbook import run_tasks

CHECK_TASK = ("Prepare the pipeline's namespaces, service accounts, RBAC and cluster credentials, proven by "
              "access review")
ROLE_START = "Validating arguments against arg spec"

RULE = {"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}

# (case id, variables, variable the message must name, text of the module's rule in it)
CASES = [
    ("wrong type", {"pipeline_accounts_token_lifetime": "a week"},
     "pipeline_accounts_token_lifetime", "int"),
    ("wrong element type", {"pipeline_accounts_deployer_rules": ["get deployments"]},
     "pipeline_accounts_deployer_rules", "dict"),
    ("empty list", {"pipeline_accounts_deployer_rules": []},
     "pipeline_accounts_deployer_rules", "no rules"),
    ("empty list in a rule", {"pipeline_accounts_deployer_rules": [{**RULE, "verbs": []}]},
     "pipeline_accounts_deployer_rules", "verbs is empty"),
    ("unknown verb", {"pipeline_accounts_deployer_extra_rules": [{**RULE, "verbs": ["fly"]}]},
     "pipeline_accounts_deployer_extra_rules (option 'roles[0].rules[6].verbs'", "fly"),
    ("out of range", {"pipeline_accounts_token_lifetime": 60},
     "pipeline_accounts_token_lifetime", "at least 600"),
    ("conflicting values",
     {"pipeline_accounts_token_lifetime": 3600, "pipeline_accounts_token_refresh_before": 7200},
     "pipeline_accounts_token_refresh_before", "between 0 and token_lifetime"),
    ("invalid namespace name", {"pipeline_accounts_app_namespace": "Health_App"},
     "pipeline_accounts_app_namespace", "Health_App"),
    ("invalid account name", {"pipeline_accounts_deployer": "chart deployer"},
     "pipeline_accounts_deployer", "chart deployer"),
    ("invalid secret name", {"pipeline_accounts_credential_secret": "Deployer.Kubeconfig"},
     "pipeline_accounts_credential_secret", "Deployer.Kubeconfig"),
    ("invalid label", {"pipeline_accounts_labels": {"bad key!": "x"}},
     "pipeline_accounts_labels", "bad key!"),
    ("not a URL", {"pipeline_accounts_cluster_server": "api.example:6443"},
     "pipeline_accounts_cluster_server", "is not a URL"),
    ("not a CA", {"pipeline_accounts_cluster_ca_data": "not a certificate"},
     "pipeline_accounts_cluster_ca_data", ""),
    ("negative age", {"pipeline_accounts_review_max_age": -1},
     "pipeline_accounts_review_max_age", "negative"),
    ("invalid record name", {"pipeline_accounts_review_record": "Review Record"},
     "pipeline_accounts_review_record", "Review Record"),
    ("the same account twice", {"pipeline_accounts_deployer": "builder"},
     "pipeline_accounts_deployer", "twice"),
]


@pytest.mark.parametrize(("variables", "variable", "rule"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_a_bad_value_fails_before_any_request(cluster, request, tmp_path, variables, variable, rule):
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    stage = {
        "kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
        "pipeline_accounts_pipeline_namespace": cluster.unique_name("ci"),
        "pipeline_accounts_app_namespace": cluster.unique_name("app"),
    }
    play = run_tasks([{"name": "accounts", "ansible.builtin.include_role": {"name": "pipeline_accounts"}}],
                     tmp_path=tmp_path, extra_vars={**stage, **variables})

    assert play.rc != 0, play.stdout
    (failed,) = play.failed
    assert failed.name == CHECK_TASK or failed.name.startswith(ROLE_START), failed.name
    assert variable in failed.msg, failed.msg
    assert rule in failed.msg, failed.msg
    if failed.name == CHECK_TASK:
        # One sentence, saying where the variable was set (here: the run's extra-vars file).
        assert "\n" not in failed.msg and failed.msg.endswith("."), failed.msg
        assert "set in extra-vars.json" in failed.msg, failed.msg
    if controls is not None:
        assert controls.requests() == []


def test_an_unset_variable_is_traced_to_the_role_defaults(cluster, request, tmp_path):
    """A default that some other value makes invalid: the message says where the variable can be set."""
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    variables = {"kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
                 "pipeline_accounts_pipeline_namespace": cluster.unique_name("ci"),
                 "pipeline_accounts_app_namespace": cluster.unique_name("app"),
                 "pipeline_accounts_namespace_admin": "deployer"}  # now the deployer's default clashes
    play = run_tasks([{"name": "accounts", "ansible.builtin.include_role": {"name": "pipeline_accounts"}}],
                     tmp_path=tmp_path, extra_vars=variables)
    assert play.rc != 0
    failed = play.task(CHECK_TASK)
    assert "pipeline_accounts_namespace_admin" in failed.msg or "pipeline_accounts_deployer" in failed.msg
    assert "set in extra-vars.json" in failed.msg or "roles/pipeline_accounts/defaults/main.yml" in failed.msg
    if controls is not None:
        assert controls.requests() == []


def test_good_values_pass_the_check_in_check_mode_without_a_request(cluster, request, tmp_path):
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    variables = {"kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
                 "pipeline_accounts_pipeline_namespace": cluster.unique_name("ci"),
                 "pipeline_accounts_app_namespace": cluster.unique_name("app")}
    play = run_tasks([{"name": "check", "ansible.builtin.include_role": {"name": "pipeline_accounts",
                                                                         "tasks_from": "check"}}],
                     tmp_path=tmp_path, extra_vars=variables, check=True)
    assert play.rc == 0, play.stdout
    assert play.task(CHECK_TASK).result["checked"] == [
        "Ensure the pipeline and application namespaces exist",
        "Ensure the builder, deployer and namespace-admin service accounts exist",
        "Ensure the deployer's role and the namespace admin's binding in the application namespace",
        "Ensure the deployer's cluster-credential secret holds a current token",
        "Prove each account can do what its duty needs and nothing it must not",
    ]
    if controls is not None:
        assert controls.requests() == []


@pytest.mark.parametrize(("variables", "variable", "rule"), [
    ({"pipeline_accounts_token_lifetime": "a week"}, "pipeline_accounts_token_lifetime", "int"),
    ({"pipeline_accounts_tenants": [{"pipeline_namespace": "a-ci"}]}, "app_namespace", "missing"),
], ids=["wrong type", "a tenant without its application namespace"])
def test_without_ansibles_own_check_the_stage_refuses_what_the_argument_spec_refuses(
        cluster, request, tmp_path, variables, variable, rule):
    """The project's playbooks import the role with rolespec_validate: false; its stage then checks
    the role's argument spec itself, in one sentence saying where the value is set."""
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    stage = {"kube_connection": {"kubeconfig": str(cluster.kubeconfig_path)},
             "pipeline_accounts_pipeline_namespace": cluster.unique_name("ci"),
             "pipeline_accounts_app_namespace": cluster.unique_name("app")}
    include = {"name": "pipeline_accounts", "rolespec_validate": False}
    play = run_tasks([{"name": "accounts", "ansible.builtin.include_role": include}], tmp_path=tmp_path,
                     extra_vars={**stage, **variables})
    assert play.rc != 0, play.stdout
    (failed,) = play.failed
    assert failed.name == CHECK_TASK, failed.name
    assert variable in failed.msg and rule in failed.msg, failed.msg
    assert "\n" not in failed.msg and failed.msg.endswith("."), failed.msg
    assert "set in extra-vars.json" in failed.msg, failed.msg
    assert not any(task.name.startswith(ROLE_START) for task in play.tasks)
    if controls is not None:
        assert controls.requests() == []
