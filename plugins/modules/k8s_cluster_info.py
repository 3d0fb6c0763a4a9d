#!/usr/bin/python
"""Ansible module k8s_cluster_info: which API server the connection options lead to."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_cluster_info
short_description: Find the Kubernetes API server the connection options lead to, and its version
description:
  - Resolves the connection options the way every module of this collection does (O(kubeconfig),
    else O(host), else the pod's service account inside a cluster, else C($KUBECONFIG) or
    C(~/.kube/config)), asks the API server for its version, and returns where the credentials came
    from and the options that lead to the same server, for later tasks (RV(connection)).
  - The version is kept with the discovery cache (C(~/.cache/tekton-cd)) for 10 minutes, as the list
    of served APIs is. A run soon after another asks nothing here, and credentials that stopped
    working are then reported by the first task that reads, before anything is written.
  - Shows which kubeconfig (and context) the run works with and the API server's version, as one
    line while the task runs (C(HOST | Using the kubeconfig ...)).
  - Changes nothing; runs in check mode too.
version_added: "0.2.0"
author: tekton-cd maintainers (@tekton-cd)
options:
  required:
    description:
      - Whether finding no cluster (no option, no service account, no default kubeconfig) or a
        kubeconfig path that is not a file is a failure. With C(false) the task returns
        RV(found=false) (and RV(missing_kubeconfig)) instead, so that a role can say what its own
        variables are.
    type: bool
    default: true
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
"""

EXAMPLES = r"""
- name: Find the cluster of the kubeconfig in KUBECONFIG or ~/.kube/config
  tekton_cd.pipeline.k8s_cluster_info:
  register: cluster

- name: Use that cluster in every later task
  ansible.builtin.set_fact:
    kube_connection: "{{ cluster.connection }}"
"""

RETURN = r"""
found:
  description: Whether a cluster was found (always true unless O(required=false)).
  returned: always
  type: bool
missing_kubeconfig:
  description: The kubeconfig path(s) that are not a file, when O(required=false) and that is why.

  returned: when not found because of it
  type: str
source:
  description: Where the credentials came from, e.g. C(context 'ci' of kubeconfig /home/me/.kube/config).
  returned: always
  type: str
server:
  description: The API server's URL.
  returned: always
  type: str
version:
  description: The API server's Kubernetes version (C(gitVersion) of C(/version)).
  returned: always
  type: str
  sample: v1.28.7
kubeconfig_path:
  description: The kubeconfig file(s) the credentials came from; empty when they did not come from a file.
  returned: always
  type: str
context:
  description: The kubeconfig context that was asked for; empty for the kubeconfig's current context.
  returned: always
  type: str
connection:
  description:
    - Connection options that lead to the same API server, for C(module_defaults) of later tasks
      (the kubeconfig found by the fallback chain is named explicitly). Secret values are masked in
      output.
  returned: always
  type: dict
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import (  # noqa: E402
    CONNECTION_OPTION_NAMES,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import ModuleDeclaration  # noqa: E402


def ensure(params, check_mode, progress):
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils import kube_client

    try:
        client = kube_client.connect(params)
    except kube_client.MissingKubeconfig as missing:
        if params["required"]:
            raise
        return {"changed": False, "found": False, "missing_kubeconfig": missing.paths}
    except kube_client.NoClusterConfigured:
        if params["required"]:
            raise
        return {"changed": False, "found": False}
    version = client.server_version()
    credentials = client.credentials
    connection = {name: params[name] for name in sorted(CONNECTION_OPTION_NAMES)
                  if params.get(name) is not None}
    path = credentials.kubeconfig if isinstance(credentials.kubeconfig, str) else ""
    if credentials.kubeconfig is not None:
        connection["kubeconfig"] = credentials.kubeconfig
    kubernetes_version = (version or {}).get("gitVersion", "")
    context = f"context {credentials.context}" if credentials.context else "(its current context)"
    progress(f"Using the kubeconfig {path or credentials.source} {context}. "
             f"Its API server {credentials.server} runs Kubernetes {kubernetes_version}.")
    return {
        "changed": False,
        "found": True,
        "source": credentials.source,
        "server": credentials.server,
        "version": kubernetes_version,
        "kubeconfig_path": path,
        "context": credentials.context or "",
        "connection": connection,
    }


MODULE = ModuleDeclaration({"required": {"type": "bool", "default": True}}, ensure, reports_progress=True)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
