#!/usr/bin/python
"""Ansible module check_inputs: documentation only; the work is done by its action plugin."""

from __future__ import annotations

DOCUMENTATION = r"""
module: check_inputs
short_description: Check the inputs of a role's later module tasks before its first write
description:
  - Runs, for each listed module task, that module's own input validation (its argument spec,
    then its handler up to the point where it would first contact an API), without sending
    anything to Kubernetes or IBM Cloud. Every rule is the module's own, so nothing is kept twice.
  - Fails on the first bad input with the module's sentence, naming the role variable behind the
    option and where that variable is set (the inventory file and line when Ansible knows it, else
    the role's defaults).
  - Meant as the first task of a role, so that a run with any bad value fails in its first seconds
    and writes nothing.
  - Runs on the controller only (an action plugin); it is never shipped to another host.
version_added: "0.2.0"
author: tekton-cd maintainers
options:
  role:
    description: Name of the role whose variables feed the calls (used in messages).
    type: str
    required: true
  connection:
    description:
      - The connection options the real tasks get from C(module_defaults) (normally
        C(kube_connection)); added to the arguments of every call of a Kubernetes module.
    type: dict
    default: {}
  calls:
    description: The module tasks to check, in the order the role runs them.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The task's name, for messages.
        type: str
        required: true
      module:
        description: The module, such as C(tekton_cd.pipeline.k8s_rbac).
        type: str
        required: true
      args:
        description: The task's arguments, written exactly as in the task.
        type: dict
        default: {}
      variables:
        description:
          - Which role variable feeds which option, as a map from option path to variable. Paths are those the
            modules use in messages (C(roles[0].rules)); C([*]) matches any index and the longest
            matching path wins. Several variables are separated by commas.
        type: dict
        default: {}
      enabled:
        description: Whether the task will run (its C(when)); a disabled call is not checked.
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    description: Runs the same in check mode; it never changes anything.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Check every input of this role before the first write
  tekton_cd.pipeline.check_inputs:
    role: pipeline_accounts
    connection: "{{ kube_connection }}"
    calls:
      - name: Ensure the deployer's cluster-credential secret holds a current token
        module: tekton_cd.pipeline.k8s_cluster_secret
        args:
          name: "{{ pipeline_accounts_credential_secret }}"
          namespace: "{{ pipeline_accounts_pipeline_namespace }}"
          service_account: "{{ pipeline_accounts_deployer }}"
          token_lifetime: "{{ pipeline_accounts_token_lifetime }}"
        variables:
          name: pipeline_accounts_credential_secret
          namespace: pipeline_accounts_pipeline_namespace
          service_account: pipeline_accounts_deployer
          token_lifetime: pipeline_accounts_token_lifetime
"""

RETURN = r"""
checked:
  description: Names of the calls that were checked (disabled ones are left out).
  returned: success
  type: list
  elements: str
task:
  description: Name of the call whose input is bad.
  returned: failure
  type: str
"""


# The action plugin validates its task arguments with this spec (it is documented above).
ARGUMENT_SPEC = {
    "role": {"type": "str", "required": True},
    "connection": {"type": "dict", "default": {}},
    "calls": {"type": "list", "elements": "dict", "required": True, "options": {
        "name": {"type": "str", "required": True},
        "module": {"type": "str", "required": True},
        "args": {"type": "dict", "default": {}},
        "variables": {"type": "dict", "default": {}},
        "enabled": {"type": "bool", "default": True},
    }},
}


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="check_inputs runs on the controller as an action plugin; it cannot run as a "
                         "module on another host (do not delegate it).")


if __name__ == "__main__":
    main()
