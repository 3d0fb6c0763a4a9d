#!/usr/bin/python
"""Ansible module stage: documentation only; the work is done by its action plugin."""

from __future__ import annotations

DOCUMENTATION = r"""
module: stage
short_description: Check every module call of a role's stage, then run them in order, in one task
description:
  - First checks each listed call with that module's own input validation (its argument spec, then
    its handler up to the point where it would first contact an API), without sending anything to
    Kubernetes or IBM Cloud. Every rule is the module's own, so nothing is kept twice.
  - Fails on the first bad input with the module's sentence, naming the role variable behind the
    option and where that variable is set (the inventory file and line when Ansible knows it, else
    the role's defaults). Then nothing has been sent anywhere.
  - Only when every call passed does it run the calls (O(calls[].run)) one after the other, each
    exactly as its module's own task would (the same handler, check mode, diff, warnings), and
    stops at the first call that fails. Calls with O(calls[].run=false) are only checked; a later
    task of the role runs them (the IBM Cloud login, whose calls depend on each other's results).
  - "Prints one line per call as it ends (C(HOST | changed: <call name>)), since the task shows as
    one line in Ansible's output."
  - One task instead of a check task and one task per module, since Ansible costs about 30 ms per task,
    and every argument is templated once instead of twice.
  - Runs on the controller (an action plugin). When the task's connection is not local (delegated
    to a host over SSH, say), each call runs there as its module, after the same check here.
version_added: "0.3.0"
author: tekton-cd maintainers (@tekton-cd)
options:
  role:
    description: Name of the role whose variables feed the calls (used in messages).
    type: str
    required: true
  connection:
    description:
      - The connection options (normally C(kube_connection)), added to the arguments of every
        call of a Kubernetes module, as C(module_defaults) would add them to its own task.
    type: dict
    default: {}
  tenants:
    description:
      - The tenants of the calls' O(calls[].per_tenant) options, each a C(pipeline_namespace) and an
        C(app_namespace).
    type: list
    elements: dict
    default: []
  calls:
    description: The module calls, in the order they run.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: What the call does, as a task name (shown in messages and progress lines).
        type: str
        required: true
      id:
        description: Key of the call's result in RV(results); the call's O(calls[].name) when omitted.
        type: str
      module:
        description: The module, such as C(tekton_cd.pipeline.k8s_rbac).
        type: str
        required: true
      args:
        description: The module's arguments, written as in a task of that module.
        type: dict
        default: {}
      per_tenant:
        description:
          - Options of O(calls[].args) whose list is what one tenant gets, written with C({pipeline})
            and C({app}) for its namespaces; the call gets one copy per tenant of O(tenants), in
            their order, in one list. An entry that a tenant's namespaces make equal to an earlier
            one of the same tenant is left out (a tenant whose two namespaces are one).
          - Ansible templates one tenant's entries only, so a stage of N tenants costs about what
            one tenant costs until the calls run.
        type: list
        elements: str
        default: []
      variables:
        description:
          - Which role variable feeds which option, as a map from option path to variable. Paths are
            those the modules use in messages (C(roles[0].rules)); C([*]) matches any index and the
            longest matching path wins. Several variables are separated by commas.
        type: dict
        default: {}
      enabled:
        description:
          - Whether the call belongs to this run (its C(when)); a disabled call is neither checked
            nor run.
        type: bool
        default: true
      run:
        description: Run the call after the check; C(false) checks it only (a later task runs it).
        type: bool
        default: true
      reads_earlier_calls:
        description:
          - The call reads what the calls before it write (an access review of the accounts just
            applied). In check mode, where those writes were only pretended, it is skipped when
            any earlier call of the stage reported a change.
        type: bool
        default: false
attributes:
  check_mode:
    support: full
    description: Each call runs in check mode as its module supports it.
  diff_mode:
    support: full
    description: The calls' diffs, one after the other.
"""

EXAMPLES = r"""
- name: Prepare the deployer's namespace and credentials
  tekton_cd.pipeline.stage:
    role: pipeline_accounts
    connection: "{{ kube_connection }}"
    calls:
      - name: Ensure the pipeline and application namespaces exist
        module: tekton_cd.pipeline.k8s_namespace
        args:
          namespaces:
            - name: "{{ pipeline_accounts_pipeline_namespace }}"
        variables:
          namespaces[0]: pipeline_accounts_pipeline_namespace
      - name: Ensure the deployer's cluster-credential secret holds a current token
        id: credential
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
  register: accounts

- name: Show when the token is renewed
  ansible.builtin.debug:
    msg: "{{ accounts.results.credential.token_expires }}"
"""

RETURN = r"""
checked:
  description: Names of the calls whose inputs were checked (disabled ones are left out).
  returned: always
  type: list
  elements: str
results:
  description:
    - The result of each call that ran or was skipped, by its O(calls[].id) (else its name), in
      order, as the module's own task would have returned it, with C(name) and C(module) added.
    - A call that ran has C(start), C(end) (local time, as the command module gives them) and
      C(delta); a skipped call has C(skipped=true) and C(skip_reason).
    - A call's C(diff) is kept in diff mode only (C(--diff)), as are the stage's own.
  returned: always
  type: dict
task:
  description: Name of the call whose input was bad, or that failed.
  returned: failure
  type: str
"""


# The action plugin validates its task arguments with this spec (it is documented above).
ARGUMENT_SPEC = {
    "role": {"type": "str", "required": True},
    "connection": {"type": "dict", "default": {}},
    "tenants": {"type": "list", "elements": "dict", "default": []},
    "calls": {"type": "list", "elements": "dict", "required": True, "options": {
        "name": {"type": "str", "required": True},
        "id": {"type": "str"},
        "module": {"type": "str", "required": True},
        "args": {"type": "dict", "default": {}},
        "per_tenant": {"type": "list", "elements": "str", "default": []},
        "variables": {"type": "dict", "default": {}},
        "enabled": {"type": "bool", "default": True},
        "run": {"type": "bool", "default": True},
        "reads_earlier_calls": {"type": "bool", "default": False},
    }},
}


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="stage runs on the controller as an action plugin; it cannot run as a "
                         "module on another host (do not delegate it).")


if __name__ == "__main__":
    main()
