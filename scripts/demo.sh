#!/usr/bin/env bash
# make demo: run the main job against the bundled demo environment. Starts an emulated Kubernetes
# cluster and a fake IBM Cloud on 127.0.0.1 (state in .cache/demo), runs playbooks/site.yml with
# inventories/demo from the fake's demo API key, prints what was made, and stops both on exit.
# The API key goes only to ansible-playbook's environment; it is never printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
STATE=$ROOT/.cache/demo

if [[ ! -x $BIN/ansible-playbook ]]; then
  echo "demo: $BIN/ansible-playbook is missing; run 'make setup' first" >&2
  exit 1
fi
export PATH=$BIN:$PATH ANSIBLE_CONFIG=$ROOT/ansible.cfg

stop_all() {
  "$BIN/python" -m emulator.ibmcloud stop --state-dir "$STATE/ibmcloud" >/dev/null || true
  "$BIN/python" -m emulator stop --state-dir "$STATE/cluster" >/dev/null || true
}

# Leftovers of an interrupted demo are stopped; every demo starts from an empty cluster.
stop_all
rm -rf "$STATE"
mkdir -p "$STATE"
trap stop_all EXIT

# --real-steps: the emulated Tekton controller really clones (a git server of examples/health),
# builds (buildah, pushing to a local registry on 127.0.0.1) and deploys (helm) where this machine
# can; real-steps.json says where they are and, one sentence each, what stays simulated and why.
echo "Starting the emulated cluster with real steps (a fresh registry gets the local postgres image first) ..."
"$BIN/python" -m emulator start --tekton --real-steps --state-dir "$STATE/cluster"
eval "$("$BIN/python" - "$STATE/cluster/real-steps.json" <<'PY'
import json, shlex, sys

state = json.load(open(sys.argv[1]))
for name, key in (("TEKTON_CD_DEMO_GIT_URL", "git_url"), ("TEKTON_CD_DEMO_REGISTRY", "registry"),
                  ("TEKTON_CD_DEMO_POSTGRES", "postgres")):
    print(f"export {name}={shlex.quote(state[key] or '')}")
PY
)"
"$BIN/python" - "$STATE/cluster/real-steps.json" <<'PY'
import json, sys

state = json.load(open(sys.argv[1]))
real = [kind for kind, done in (("git clone", state["real"]["git"]), ("image builds", state["real"]["builds"]),
                                ("helm deploy", state["real"]["helm"])) if done]
print("Real steps: " + (", ".join(real) if real else "none") + ".")
if state["registry"]:
    print(f"  registry {state['registry']} (plain HTTP), source {state['git_url']}, postgres {state['postgres']}")
for sentence in state["simulated"]:
    print("  " + sentence)
print("  emulator: the smoke test (and the curl digest check before helm, which helm's own check replaces) "
      "is simulated: nothing in the emulated cluster runs the application's containers or serves it over HTTP.")
PY
"$BIN/python" -m emulator.ibmcloud start --state-dir "$STATE/ibmcloud" \
  --kubeconfig "$STATE/cluster/kubeconfig" --cluster demo

run_playbook() {
  (
    set -a
    # shellcheck source=/dev/null
    . "$STATE/ibmcloud/ibmcloud.env"
    set +a
    exec ansible-playbook -i inventories/demo "$@"
  )
}

cat <<'TEXT'
This is a demo: an emulated Kubernetes cluster (with an emulated Tekton controller) and a fake
IBM Cloud run on 127.0.0.1, and the whole flow runs against them from the fake's API key. To run
the same playbooks against a real cluster, copy inventories/local (any kubeconfig) or
inventories/dev (IBM Cloud) and run: .venv/bin/ansible-playbook -i inventories/<env> playbooks/site.yml
TEXT

started=$SECONDS
run_playbook playbooks/site.yml
elapsed=$((SECONDS - started))

# The same run again proves idempotence: nothing reports changed and nothing is written. The
# emulator's writes verb counts the write requests since its last reset (dry-run requests and
# access reviews, which store nothing, are listed apart and not counted).
writes() { "$BIN/python" -m emulator writes --state-dir "$STATE/cluster" "$@"; }
writes --reset >/dev/null
echo
echo "Provisioning a second time (playbooks/provision.yml; output in .cache/demo/second-run.log) ..."
run_playbook playbooks/provision.yml >"$STATE/second-run.log" 2>&1 || { tail -20 "$STATE/second-run.log"; exit 1; }
second_recap=$(grep -E '^demo +:' "$STATE/second-run.log" | tr -s ' ')
second_writes=$(writes)

"$BIN/python" - "$STATE/cluster/kubeconfig" "$elapsed" "$second_recap" "$second_writes" <<'PY'
"""What the run left in the emulated cluster (objects labelled as ours), without secret values,
the images the builds pushed (checked in the local registry) and those the Helm release runs."""
import os
import sys

from kubernetes import client, config

from emulator.builds.registry import manifest_exists

registry = os.environ.get("TEKTON_CD_DEMO_REGISTRY")

api_client = config.new_client_from_config(sys.argv[1])
core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
selector = "app.kubernetes.io/part-of=tekton-cd"
print(f"\nDemo finished in {sys.argv[2]} s. In the emulated cluster now (label {selector}):")
print("  namespaces:       " + ", ".join(n.metadata.name for n in core.list_namespace(label_selector=selector).items))
for label, items in (
    ("service accounts", core.list_service_account_for_all_namespaces(label_selector=selector).items),
    ("secrets", core.list_secret_for_all_namespaces(label_selector=selector).items),
    ("roles", rbac.list_role_for_all_namespaces(label_selector=selector).items),
    ("role bindings", rbac.list_role_binding_for_all_namespaces(label_selector=selector).items),
):
    names = ", ".join(f"{i.metadata.namespace}/{i.metadata.name}" for i in items)
    print(f"  {label + ':':<18}{names}")
runs = client.CustomObjectsApi(api_client).list_cluster_custom_object("tekton.dev", "v1", "pipelineruns")
for run in runs["items"]:
    condition = next((c for c in run.get("status", {}).get("conditions", []) if c["type"] == "Succeeded"), {})
    print(f"  pipeline run:     {run['metadata']['namespace']}/{run['metadata']['name']} "
          f"{condition.get('reason', 'unknown')}")
print("The run's picture (SVG) and data (JSON): .cache/artifacts/")
custom = client.CustomObjectsApi(api_client)
for run in runs["items"]:
    namespace, name = run["metadata"]["namespace"], run["metadata"]["name"]
    task_runs = custom.list_namespaced_custom_object(
        "tekton.dev", "v1", namespace, "taskruns", label_selector=f"tekton.dev/pipelineRun={name}")["items"]
    for task_run in sorted(task_runs, key=lambda t: t["metadata"]["name"]):
        results = {r["name"]: r["value"] for r in task_run.get("status", {}).get("results", [])}
        if "IMAGE_DIGEST" not in results:
            continue
        reference = f"{results['IMAGE_URL'].rsplit(':', 1)[0]}@{results['IMAGE_DIGEST']}"
        where = "simulated build, no registry"
        if registry:
            where = "in the registry" if manifest_exists(reference) else "NOT IN THE REGISTRY"
        task = task_run["metadata"]["labels"].get("tekton.dev/pipelineTask", "")
        print(f"  built by {task + ':':<28}{reference} ({where})")
apps = client.AppsV1Api(api_client)
for kind, items in (("deployment", apps.list_deployment_for_all_namespaces(label_selector="app.kubernetes.io/instance").items),
                    ("statefulset", apps.list_stateful_set_for_all_namespaces(label_selector="app.kubernetes.io/instance").items),
                    ("job", client.BatchV1Api(api_client).list_job_for_all_namespaces(label_selector="app.kubernetes.io/instance").items)):
    for item in items:
        for container in (item.spec.template.spec.init_containers or []) + item.spec.template.spec.containers:
            label = f"{kind} {item.metadata.namespace}/{item.metadata.name}:"
            print(f"  {label:<38}{container.image}")
print(f"Second provisioning run: {sys.argv[3]}")
print("Writes to the cluster during the second run: " + sys.argv[4].replace("\n", "\n  "))
PY
