"""The inventories users copy: every one has the same shape (group `clusters`, local connection,
values in group_vars/); the IBM Cloud ones take the API key from the environment or an Ansible Vault
file made from their vault.yml.example; several hosts in one inventory provision several clusters
in one ansible-playbook run, each through its own login; and a missing required value stops the
run in its first seconds, naming the variable and the inventory file to set it in."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from emulator import EmulatedCluster
from tests.ibmcloud_fixtures import ClusterTarget, fake_ibmcloud  # noqa: F401
from tests.integration.test_provision import SCRUBBED, ibmcloud_env, run_playbook
from tests.playbook import ROOT, VENV_BIN

INVENTORIES = ("demo", "dev", "local", "prod")
IBMCLOUD_INVENTORIES = ("dev", "prod")


def inventory(path) -> dict:
    listed = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(path), "--list"],
                            capture_output=True, text=True, timeout=120, check=True,
                            env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})
    return json.loads(listed.stdout)


@pytest.mark.parametrize("name", INVENTORIES)
def test_every_inventory_has_one_host_per_cluster_in_group_clusters_with_a_local_connection(name):
    listed = inventory(ROOT / "inventories" / name)
    hosts = listed["clusters"]["hosts"]
    assert hosts, f"inventories/{name} has no host in group clusters"
    for host in hosts:
        variables = listed["_meta"]["hostvars"][host]
        assert variables["ansible_connection"] == "local"
        assert "pipeline_accounts_pipeline_namespace" in variables
    assert (ROOT / "inventories" / name / "group_vars").is_dir()


@pytest.mark.parametrize("name", IBMCLOUD_INVENTORIES)
def test_ibmcloud_inventories_keep_the_key_out_of_plain_files_and_show_how_to_vault_it(name):
    here = ROOT / "inventories" / name / "group_vars" / "clusters"
    values = yaml.safe_load((here / "main.yml").read_text())
    assert values["cluster_login_method"] == "ibmcloud"
    assert values["cluster_login_ibmcloud_cluster"]
    # The key is only a reference to the vault's variable (empty without vault.yml: then the environment).
    reference = "{{ vault_cluster_login_ibmcloud_api_key | default('') }}"
    assert values["cluster_login_ibmcloud_api_key"] == reference
    example = (here / "vault.yml.example").read_text()
    assert "ansible-vault encrypt vault.yml" in example
    assert "vault_cluster_login_ibmcloud_api_key" in yaml.safe_load(example)
    assert not (here / "vault.yml").exists(), "a vault file is committed in the inventory"
    # The example is never loaded as variables.
    variables = inventory(ROOT / "inventories" / name)["_meta"]["hostvars"][name]
    assert "vault_cluster_login_ibmcloud_api_key" not in variables


def test_the_api_key_from_an_ansible_vault_file(west, fake_ibmcloud, tmp_path):  # noqa: F811
    """inventories/dev copied, its vault.yml made from the example and encrypted as the docs say;
    the run gets the key from it alone (no IC_API_KEY in the environment)."""
    fake_ibmcloud.add_cluster("vaulted")
    copy = tmp_path / "dev"
    shutil.copytree(ROOT / "inventories" / "dev", copy)
    here = copy / "group_vars" / "clusters"
    example = (here / "vault.yml.example").read_text()
    (here / "vault.yml").write_text(example.replace("<your IBM Cloud API key>", fake_ibmcloud.api_key))
    password = tmp_path / "vault-password"
    password.write_text("correct horse battery staple\n")
    subprocess.run([str(VENV_BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password),
                    str(here / "vault.yml")], check=True, capture_output=True, timeout=60)
    assert fake_ibmcloud.api_key not in (here / "vault.yml").read_text()

    names = {"pipeline_accounts_pipeline_namespace": "vault-ci",
             "pipeline_accounts_app_namespace": "vault-app",
             "cluster_login_ibmcloud_cluster": "vaulted", "cluster_login_registry_namespace": "vault-images"}
    run = run_playbook(tmp_path / "run", str(copy), fake_ibmcloud.env(), names,
                       extra_args=["--vault-password-file", str(password)])
    assert run.rc == 0, run.output
    assert fake_ibmcloud.api_key not in run.output
    secret = next(s for s in west.objects("", "v1", "secrets", "vault-ci")
                  if s["metadata"]["name"] == "icr-credentials")
    assert fake_ibmcloud.api_key in base64.b64decode(secret["data"][".dockerconfigjson"]).decode()


# -- several clusters in one run ------------------------------------------------------------

@pytest.fixture(scope="module")
def east(tmp_path_factory):
    with EmulatedCluster(tekton=True) as emulated:
        emulated.kubeconfig_path = emulated.write_kubeconfig(tmp_path_factory.mktemp("east") / "kubeconfig")
        yield emulated


@pytest.fixture(scope="module")
def west():
    with EmulatedCluster(tekton=True) as emulated:
        yield emulated


@pytest.fixture(scope="module")
def ibmcloud_target_cluster(west):
    """The fake IBM Cloud's clusters are the west cluster."""
    return ClusterTarget.from_emulated(west)


def secret_names(emulated, namespace) -> set[str]:
    return {s["metadata"]["name"] for s in emulated.objects("", "v1", "secrets", namespace)}


def namespaces_of(emulated) -> set[str]:
    return {ns["metadata"]["name"] for ns in emulated.objects("", "v1", "namespaces")}


def test_two_hosts_provision_two_clusters_in_one_run_each_with_its_own_login(east, west, fake_ibmcloud,  # noqa: F811
                                                                             tmp_path):
    """One inventory, two hosts: east logs in with its own kubeconfig, west through (fake) IBM
    Cloud; one ansible-playbook run (forks) provisions both, and nothing of one reaches the other."""
    fake_ibmcloud.add_cluster("west")
    hosts = {
        "east": {"cluster_login_method": "kubeconfig", "cluster_login_kubeconfig": str(east.kubeconfig_path),
                 "pipeline_accounts_pipeline_namespace": "east-ci",
                 "pipeline_accounts_app_namespace": "east-app"},
        "west": {"cluster_login_method": "ibmcloud", "cluster_login_ibmcloud_cluster": "west",
                 "cluster_login_registry_namespace": "west-images",
                 "cluster_login_registry_namespaces": ["west-ci"],
                 "cluster_login_registry_service_accounts": [{"name": "builder"}],
                 "pipeline_accounts_registry_secrets": ["icr-credentials"],
                 "pipeline_accounts_pipeline_namespace": "west-ci",
                 "pipeline_accounts_app_namespace": "west-app"},
    }
    made = tmp_path / "two-clusters"
    (made / "group_vars").mkdir(parents=True)
    (made / "hosts.yml").write_text(yaml.safe_dump({"clusters": {"hosts": hosts}}))
    (made / "group_vars" / "clusters.yml").write_text(yaml.safe_dump(
        {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}))

    started = time.monotonic()
    run = run_playbook(tmp_path / "run", str(made), ibmcloud_env(fake_ibmcloud), {},
                       extra_args=["--forks", "2"])
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.output
    for host in hosts:
        recap = rf"^{host} +: ok=\d+ +changed=[1-9]\d* +unreachable=0 +failed=0"
        assert re.search(recap, run.stdout, re.MULTILINE), run.stdout
    assert {"east-ci", "east-app"} <= namespaces_of(east)
    assert not {"west-ci", "west-app"} & namespaces_of(east)
    assert {"west-ci", "west-app"} <= namespaces_of(west)
    assert not {"east-ci", "east-app"} & namespaces_of(west)
    # Each deployer kubeconfig points at its own cluster.
    for emulated, namespace in ((east, "east-ci"), (west, "west-ci")):
        secret = next(s for s in emulated.objects("", "v1", "secrets", namespace)
                      if s["metadata"]["name"] == "deployer-kubeconfig")
        kubeconfig = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
        assert kubeconfig["clusters"][0]["cluster"]["server"] == emulated.url
    # Only west logs in through IBM Cloud and gets registry credentials.
    assert "icr-credentials" in secret_names(west, "west-ci")
    assert "icr-credentials" not in secret_names(east, "east-ci")
    assert elapsed < 120


# -- a missing required value ---------------------------------------------------------------

def test_a_missing_ibmcloud_cluster_stops_the_run_in_seconds_naming_the_variable_and_the_file(tmp_path):
    """inventories/dev as a user copies it, with cluster_login_ibmcloud_cluster taken out."""
    copy = tmp_path / "dev"
    shutil.copytree(ROOT / "inventories" / "dev", copy)
    values = copy / "group_vars" / "clusters" / "main.yml"
    values.write_text("".join(line for line in values.read_text().splitlines(keepends=True)
                              if not line.startswith("cluster_login_ibmcloud_cluster:")))
    started = time.monotonic()
    run = run_playbook(tmp_path / "run", str(copy), {"IC_API_KEY": "not-used-4711"}, {})
    elapsed = time.monotonic() - started
    assert run.rc != 0
    shown = " ".join(run.stdout.split())
    assert (f"cluster_login_ibmcloud_cluster is not set for host dev, which logs in through IBM Cloud: "
            f"set it to the name or id of your IKS or ROKS cluster in {values}") in shown, run.output
    assert "Log in to the cluster" not in run.stdout  # stopped before the first stage began
    assert "not-used-4711" not in run.output
    assert elapsed < 15


def test_inventories_dev_without_an_api_key_names_the_vault_file_of_inventories_dev(tmp_path):
    run = run_playbook(tmp_path / "run", "dev", {name: "" for name in SCRUBBED}, {})
    assert run.rc != 0
    shown = " ".join(run.stdout.split())
    assert ("No IBM Cloud API key is set for host dev, which logs in through IBM Cloud (cluster_login_method "
            "ibmcloud): export IC_API_KEY, or set vault_cluster_login_ibmcloud_api_key in "
            "inventories/dev/group_vars/clusters/vault.yml") in shown, run.output
    assert "set cluster_login_ibmcloud_api_key in inventories/dev/group_vars/clusters/main.yml" in shown

