"""playbooks/teardown.yml on an emulated cluster of its own: provision from an IBM Cloud API key,
add what the later stages make (labelled Tekton objects, a run with its TaskRun and pod, the
application's Helm release with its workloads) and objects of others in the same namespaces (a
ConfigMap, a Secret, another Helm release); then

- check mode (with --diff) lists everything teardown would remove and sends no write at all;
- teardown leaves the cluster as it was before provisioning, compared object by object, except
  the objects of others, which are untouched, and the namespaces holding them;
- teardown with teardown_delete_namespaces=always then removes those namespaces too, and the
  cluster is exactly as it was before provisioning.

The cluster is a dedicated emulator, so that "as it was" is exact (no other test writes to it).
"""

from __future__ import annotations

import pytest
from kubernetes import client

from emulator import EmulatedCluster
from tests.chart.helm import CHART, VALUES, requires_helm, run_helm, value_args
from tests.ibmcloud_fixtures import ClusterTarget, fake_ibmcloud  # noqa: F401
from tests.integration.tekton_support import Tekton
from tests.integration.test_provision import ibmcloud_env, run_playbook

pytestmark = [requires_helm, pytest.mark.emulator_only]

OURS = {"app.kubernetes.io/part-of": "tekton-cd"}
# Objects the emulator keeps for itself and rewrites as it goes: not part of any state compared.
VOLATILE_KINDS = {"Event", "Lease"}


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory):
    with EmulatedCluster(tekton=True) as emulated:
        path = emulated.write_kubeconfig(tmp_path_factory.mktemp("teardown-cluster") / "kubeconfig")
        emulated.kubeconfig_path = path
        yield emulated


@pytest.fixture(scope="module")
def ibmcloud_target_cluster(own_cluster):
    """The fake IBM Cloud's clusters point at this file's own cluster."""
    return ClusterTarget.from_emulated(own_cluster)


def snapshot(own_cluster) -> dict:
    """Every stored object of the cluster, by (apiVersion, kind, namespace, name): (uid, resourceVersion).
    A changed object has another resourceVersion, a re-created one another uid."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {own_cluster.admin_token}"

    def get(path):
        answer = session.get(own_cluster.url + path, verify=own_cluster.ca_file, timeout=30)
        answer.raise_for_status()
        return answer.json()

    versions = ["v1"] + [g["preferredVersion"]["groupVersion"] for g in get("/apis")["groups"]]
    state = {}
    for version in versions:
        prefix = "/api/" if version == "v1" else "/apis/"
        for resource in get(prefix + version)["resources"]:
            if "/" in resource["name"] or "list" not in resource.get("verbs", []):
                continue
            if resource["kind"] in VOLATILE_KINDS:
                continue
            for item in get(f"{prefix}{version}/{resource['name']}").get("items") or []:
                meta = item["metadata"]
                state[(version, resource["kind"], meta.get("namespace"), meta["name"])] = (
                    meta.get("uid"), meta.get("resourceVersion"))
    return state


def add_pipeline_objects(api_client, namespace):
    """What pipeline_definitions and pipeline_run make: a labelled Task and Pipeline, and a run of
    it (labelled by Tekton only, as a run started by hand would be), which makes a TaskRun and pod."""
    tekton = Tekton(api_client, namespace)
    step = {"name": "say", "image": "docker.io/library/alpine:3.21", "script": "echo hello"}
    tekton.create("Task", "say-hello", {"steps": [step]}, labels=OURS)
    tekton.create("Pipeline", "hello", {"tasks": [{"name": "say", "taskRef": {"name": "say-hello"}}]},
                  labels=OURS)
    tekton.create("PipelineRun", "hello-run-1", {"pipelineRef": {"name": "hello"}})
    tekton.wait_done("PipelineRun", "hello-run-1")
    assert tekton.list("TaskRun"), "the run made no TaskRun to tear down"
    core = client.CoreV1Api(api_client)
    assert core.list_namespaced_pod(namespace, label_selector="tekton.dev/pipeline=hello").items


def helm(own_cluster, tmp_path, *args):
    done = run_helm(tmp_path / "helm-home", "--kubeconfig", str(own_cluster.kubeconfig_path), *args)
    assert done.returncode == 0, done.stderr
    return done


def other_chart(tmp_path):
    """A chart of someone else's: one ConfigMap."""
    chart = tmp_path / "others-chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: notes\nversion: 0.1.0\n")
    (chart / "templates" / "notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-notes\ndata:\n  a: b\n")
    return chart


def add_others(api_client, own_cluster, tmp_path, ci, app):
    """Objects of others in the pipeline's namespaces; teardown must leave every one alone."""
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(app, {"metadata": {"name": "team-notes"}, "data": {"owner": "ops"}})
    core.create_namespaced_secret(ci, {"metadata": {"name": "someone-elses", "labels": {"app": "other"}},
                                       "stringData": {"k": "v"}})
    helm(own_cluster, tmp_path, "install", "notes", str(other_chart(tmp_path)), "--namespace", app)
    return {("v1", "ConfigMap", app, "team-notes"), ("v1", "Secret", ci, "someone-elses"),
            ("v1", "ConfigMap", app, "notes-notes"), ("v1", "Secret", app, "sh.helm.release.v1.notes.v1")}


def test_teardown_removes_exactly_what_tekton_cd_made(own_cluster, fake_ibmcloud, tmp_path):  # noqa: F811
    from kubernetes import config

    api_client = config.new_client_from_config_dict(own_cluster.kubeconfig_dict())
    before = snapshot(own_cluster)
    ci, app = "teardown-ci", "teardown-app"
    stage = {"pipeline_accounts_pipeline_namespace": ci, "pipeline_accounts_app_namespace": app,
             "cluster_login_registry_namespace": "teardown-images"}
    fake_ibmcloud.add_cluster("demo")
    env = ibmcloud_env(fake_ibmcloud)

    provisioned = run_playbook(tmp_path / "provision", "demo", env, stage)
    assert provisioned.rc == 0, provisioned.output
    add_pipeline_objects(api_client, ci)
    helm(own_cluster, tmp_path, "upgrade", "--install", "health", str(CHART), "--namespace", app,
         "--wait", "--timeout", "60s", *value_args(("digests.yaml",)))
    assert (VALUES / "digests.yaml").exists()
    others = add_others(api_client, own_cluster, tmp_path, ci, app)
    provisioned_state = snapshot(own_cluster)
    made = {key for key in provisioned_state if key not in before and key not in others}
    assert ("apps/v1", "Deployment", app, "health-api") in made
    assert ("tekton.dev/v1", "TaskRun", ci) in {key[:3] for key in made}

    # Check mode: everything is listed, nothing is written.
    own_cluster.controls.reset()
    checked = run_playbook(tmp_path / "check", "demo", env, stage, playbook="teardown.yml",
                           extra_args=["--check", "--diff"])
    assert checked.rc == 0, checked.output
    assert own_cluster.controls.writes() == []
    assert snapshot(own_cluster) == provisioned_state
    shown = " ".join(checked.stdout.split())
    for ref in (f"Would delete PipelineRun {ci}/hello-run-1", f"Would delete Pipeline {ci}/hello",
                f"Would delete ServiceAccount {ci}/builder", f"Would delete Secret {ci}/icr-credentials",
                f"Would delete Deployment {app}/health-api",
                f"Would delete Secret {app}/sh.helm.release.v1.health.v1",
                f"Would delete Role {app}/chart-deployer",
                f"Keeps ConfigMap {app}/team-notes (not made by tekton-cd)",
                f"Keeps Secret {ci}/someone-elses (not made by tekton-cd)",
                f"Keeps ConfigMap {app}/notes-notes (not made by tekton-cd)"):
        assert ref in shown, ref
    assert f"Would delete Namespace {ci}" not in shown  # both hold objects of others
    assert f"Keeps Namespace {app}: it holds" in shown
    assert f"PipelineRun {ci}/hello-run-1\n" in checked.stdout  # the --diff lists it, one per line
    assert "changed=1" in checked.stdout

    # Teardown: the cluster is as before provisioning, but for the objects of others and the
    # namespaces (with what the cluster puts in every namespace) that hold them.
    removed = run_playbook(tmp_path / "teardown", "demo", env, stage, playbook="teardown.yml")
    assert removed.rc == 0, removed.output
    after = snapshot(own_cluster)
    for key in others:
        assert after[key] == provisioned_state[key], f"{key} was changed by teardown"
    kept_namespaces = {("v1", "Namespace", None, ci), ("v1", "Namespace", None, app)}
    cluster_made = {key for key in after if key[1:] in {("ServiceAccount", key[2], "default"),
                                                         ("ConfigMap", key[2], "kube-root-ca.crt")}
                    and key[2] in (ci, app)}
    assert kept_namespaces <= set(after)
    leftovers = {key: value for key, value in after.items()
                 if key not in others and key not in kept_namespaces and key not in cluster_made}
    assert leftovers == before

    # A second teardown finds nothing more of ours; told to, it deletes the namespaces too, and the
    # cluster is exactly as it was before provisioning.
    again = run_playbook(tmp_path / "again", "demo", env, {**stage, "teardown_delete_namespaces": "always"},
                         playbook="teardown.yml")
    assert again.rc == 0, again.output
    assert snapshot(own_cluster) == before

