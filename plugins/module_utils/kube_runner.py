"""What keeps a module thin: argument parsing, the connection options, failures, the result.

A module declares its options and a handler, and ends with ``run_module``:

    def ensure(params, check_mode):            # no AnsibleModule in here: an action plugin or a
        ...validate params, raise KubeError... # test can call it in-process the same way
        service = connect_service(params, check_mode)
        change = service.apply(...)
        return change_result(change)           # {"changed", "result", "diff"}

    def main():
        run_module(ARGUMENT_SPEC, ensure)

In-process (an action plugin, a test): ``run_handler(handler, validate_params(SPEC, args), check)``.

``run_module`` builds the AnsibleModule from the module's spec plus kube_args.CONNECTION_ARGS
(check mode supported), calls ``handler(params, check_mode)``, and exits with the dict it returns
(a ``warnings`` list in it becomes Ansible warnings). A KubeError becomes ``fail_json(msg=...)``
with its one sentence; anything else fails with the traceback attached for a bug report.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_args import with_connection_args
from ansible.module_utils.kube_errors import KubeError


def connect_service(params, check_mode, **service_options):
    """KubeService over a fresh connection built from the connection options in ``params``."""
    from ansible.module_utils.kube_client import connect
    from ansible.module_utils.kube_service import KubeService

    return KubeService(connect(params), check_mode=check_mode, **service_options)


def change_result(change, *, key="result", **extra):
    """The usual module result for one Change: changed, the object (Secret values hidden), diff."""
    return {"changed": change.changed, key: change.result, "diff": change.diff(), **extra}


def changes_result(changes, *, key="results", **extra):
    """Module result for several Changes: changed if any is, objects in order, one diff per object."""
    return {
        "changed": any(c.changed for c in changes),
        key: [c.result for c in changes],
        "diff": [c.diff() for c in changes],
        **extra,
    }


def validate_params(argument_spec, args):
    """Task arguments checked and completed (defaults, env fallbacks) as AnsibleModule would do,
    for calling a handler without a module process; KubeError lists what is wrong."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    result = ArgumentSpecValidator(with_connection_args(argument_spec)).validate(args)
    if result.error_messages:
        raise KubeError("Invalid task arguments: " + "; ".join(result.error_messages) + ".")
    return result.validated_parameters


def run_handler(handler, params, check_mode):
    """Call a handler outside Ansible; KubeError propagates (for action plugins and tests)."""
    return handler(params, check_mode)


SECRET_KEY_WORDS = ("token", "password", "secret", "key-data", "client-key", "credential")


def kubeconfig_secrets(value, key=""):
    """The secret strings of a kubeconfig dict: tokens, passwords, key data, exec env values."""
    if isinstance(value, dict):
        if key == "env" or set(value) == {"name", "value"}:
            return {value["value"]} if isinstance(value.get("value"), str) and value["value"] else set()
        found = set()
        for child_key, child in value.items():
            found |= kubeconfig_secrets(child, str(child_key).lower())
        return found
    if isinstance(value, list):
        return set().union(*(kubeconfig_secrets(item, key) for item in value)) if value else set()
    if isinstance(value, str) and value and any(word in key for word in SECRET_KEY_WORDS):
        return {value}
    return set()


def _mask_only_kubeconfig_secrets(module):
    """kubeconfig is no_log, which would mask every string of a kubeconfig dict (even "v1") in all
    output; keep masking only its secrets, and do not mask a kubeconfig path at all."""
    from ansible.module_utils.common.parameters import _return_datastructure_name

    kubeconfig = module.params.get("kubeconfig")
    if kubeconfig is None:
        return
    module.no_log_values.difference_update(_return_datastructure_name(kubeconfig))
    if isinstance(kubeconfig, dict):
        module.no_log_values.update(kubeconfig_secrets(kubeconfig))


def run_module(argument_spec, handler, **module_options):
    """Build the AnsibleModule, run the handler, exit with its result or fail with one sentence."""
    module = AnsibleModule(
        argument_spec=with_connection_args(argument_spec),
        supports_check_mode=True,
        **module_options,
    )
    _mask_only_kubeconfig_secrets(module)
    try:
        result = handler(module.params, module.check_mode)
    except KubeError as exc:
        module.fail_json(msg=exc.msg, **({"status": exc.status} if exc.status else {}))
    except Exception as exc:  # a bug: keep the traceback for the report
        module.fail_json(msg=f"Unexpected {type(exc).__name__} in {module._name}: {exc}",
                         exception=traceback.format_exc())
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)
