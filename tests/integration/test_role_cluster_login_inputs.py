"""Bad values of the cluster_login role's variables fail its stage task, before anything is sent:
no request reaches the cluster (the emulator's request log stays empty) and none reaches IBM
Cloud (its endpoints point at a closed port, so any request would fail the run another way).

The registry entry point writes after pipeline_accounts has, so its inputs are checked by main's stage
already when a playbook says it will run it (cluster_login_check_registry, as provision.yml does).
"""

from __future__ import annotations

import pytest

from tests.playbook import isolated_environment, run_tasks

CHECK_TASK = "Check every input of the cluster login and the registry step, then run its calls"
ROLE_START = "Validating arguments against arg spec"
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there

IBMCLOUD = {"cluster_login_method": "ibmcloud", "cluster_login_ibmcloud_api_key": "not-a-real-key",
            "cluster_login_ibmcloud_cluster": "demo", "cluster_login_ibmcloud_iam_endpoint": CLOSED,
            "cluster_login_ibmcloud_cs_endpoint": CLOSED, "cluster_login_registry_cr_endpoint": CLOSED,
            "cluster_login_check_registry": True, "cluster_login_registry_namespaces": ["health-ci"]}

CASES = [
    ("wrong type", {"cluster_login_ibmcloud_admin": "perhaps"}, "cluster_login_ibmcloud_admin", "bool"),
    ("not a choice", {"cluster_login_method": "ssh"}, "cluster_login_method", "ssh"),
    ("not a URL", {"cluster_login_ibmcloud_iam_endpoint": "iam.example"},
     "cluster_login_ibmcloud_iam_endpoint", "not an http(s) URL"),
    ("invalid secret name", {"cluster_login_registry_secret": "ICR Credentials"},
     "cluster_login_registry_secret", "ICR Credentials"),
    ("empty list", {"cluster_login_registry_namespaces": []}, "cluster_login_registry_namespaces", "empty"),
    ("invalid namespace name", {"cluster_login_registry_namespaces": ["Health_CI"]},
     "cluster_login_registry_namespaces", "Health_CI"),
    ("invalid account name", {"cluster_login_registry_service_accounts": [{"name": "the builder"}]},
     "cluster_login_registry_service_accounts", "the builder"),
]


@pytest.mark.parametrize(("variables", "variable", "rule"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_a_bad_value_fails_before_any_request(cluster, request, tmp_path, variables, variable, rule):
    controls = request.getfixturevalue("emulator").controls if cluster.is_emulated else None
    play = run_tasks([{"name": "login", "ansible.builtin.include_role": {"name": "cluster_login"}}],
                     tmp_path=tmp_path, extra_vars={**IBMCLOUD, **variables},
                     env=isolated_environment(tmp_path))
    assert play.rc != 0, play.stdout
    (failed,) = play.failed
    assert failed.name == CHECK_TASK or failed.name.startswith(ROLE_START), failed.name
    assert variable in failed.msg and rule in failed.msg, failed.msg
    if failed.name == CHECK_TASK:
        assert "set in extra-vars.json" in failed.msg and "\n" not in failed.msg, failed.msg
    assert "not-a-real-key" not in play.stdout + play.stderr
    if controls is not None:
        assert controls.requests() == []
