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

"$BIN/python" -m emulator start --tekton --state-dir "$STATE/cluster"
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
"""What the run left in the emulated cluster (objects labelled as ours), without secret values."""
import sys

from kubernetes import client, config

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
print(f"Second provisioning run: {sys.argv[3]}")
print("Writes to the cluster during the second run: " + sys.argv[4].replace("\n", "\n  "))
PY
