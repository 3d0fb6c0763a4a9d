"""What keeps a module thin: its declaration, and the one funnel every task goes through.

A module declares its options, their constraints and a handler, and ends with ``MODULE.main``:

    def ensure(params, check_mode):            # no AnsibleModule in here: the action plugin and
        ...validate params, raise KubeError... # the tests call it in-process the same way
        service = connect_service(params, check_mode)
        return changes_result([service.apply(...)], list_form=False)  # changed, result, diff

    MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure, mutually_exclusive=[("name", "items")])

    def main():
        MODULE.main()

Two ways in, one way through:
- the action plugin of the same name (plugins/plugin_utils/handler_action.py) validates the task's
  arguments with ``MODULE.validate`` and calls ``MODULE.execute`` inside Ansible's worker process:
  no module process, no payload, no new interpreter per task;
- ``MODULE.main()`` does the same inside AnsibleModule, for a task delegated to a remote host (the
  action plugin then ships the module as usual) and for ``ansible -m``-style use without the plugin.

A handler that takes long (following a pipeline run) is declared with ``reports_progress=True``
and receives ``progress(text)``, which prints a line while the task runs when the action plugin
runs it, and does nothing in a module process.

``execute`` is the funnel: a ``TaskFailure`` (KubeError, IBMCloudError) becomes ``failed`` with its
one sentence, anything else ``failed`` with the traceback for a bug report; a ``warnings`` list
becomes Ansible warnings; results named in ``secret_results`` are returned only to tasks that set
``no_log`` (otherwise dropped with a warning saying how to get them). Masking of no_log option
values in the result is done by ``masked`` (the only place that decides what is secret in a task's
output); ``kube_service.HIDDEN`` is the one placeholder for hidden object values.
"""

from __future__ import annotations

import traceback

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import with_connection_args
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_config import kubeconfig_secrets
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import TaskFailure

CONSTRAINT_NAMES = ("mutually_exclusive", "required_together", "required_one_of", "required_if",
                    "required_by")


def connect_service(params, check_mode, **service_options):
    """KubeService over a fresh connection built from the connection options in ``params``."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_client import connect
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import KubeService

    return KubeService(connect(params), check_mode=check_mode, **service_options)


def one_or_list(list_form, entries, *, key="result"):
    """The result shape of a module with a single form (``name: ...``) and a list form
    (``namespaces: [...]``): ``{key: first entry}`` or ``{key + "s": entries}``."""
    return {f"{key}s": list(entries)} if list_form else {key: entries[0]}


def changes_result(changes, *, list_form, **extra):
    """The usual module result for Changes: changed if any is, the objects (Secret values hidden;
    {} once deleted) and their diffs, in the single or list shape (one_or_list)."""
    diffs = [change.diff() for change in changes]
    return {"changed": any(change.changed for change in changes),
            **one_or_list(list_form, [change.result or {} for change in changes]),
            "diff": diffs if list_form else diffs[0], **extra}


class ModuleDeclaration:
    """A module's options (its argument spec, plus the Kubernetes connection options unless
    ``kube_connection=False``), their constraints (AnsibleModule's ``mutually_exclusive``,
    ``required_if``, ...), its handler ``handler(params, check_mode) -> result dict``, and the
    result keys that carry secrets (``secret_results={"access_token": "access token"}``)."""

    def __init__(self, argument_spec, handler, *, kube_connection=True, secret_results=None,
                 reports_progress=False, **constraints):
        unknown = set(constraints) - set(CONSTRAINT_NAMES)
        if unknown:
            raise TypeError(f"unknown module constraint(s): {', '.join(sorted(unknown))}")
        self.argument_spec = with_connection_args(argument_spec) if kube_connection else dict(argument_spec)
        self.handler = handler
        self.kube_connection = kube_connection
        self.secret_results = dict(secret_results or {})
        self.reports_progress = reports_progress
        self.constraints = constraints

    def validate(self, args):
        """(params, no_log values) for the task arguments ``args``, checked and completed (defaults,
        environment fallbacks, types) exactly as AnsibleModule does; a TaskFailure lists what is wrong."""
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
        from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

        outcome = ArgumentSpecValidator(self.argument_spec, **self.constraints).validate(args)
        if outcome.error_messages:
            raise KubeError("Invalid task arguments: " + "; ".join(outcome.error_messages) + ".")
        params = outcome.validated_parameters
        return params, self.secret_option_values(params, outcome._no_log_values)

    def secret_option_values(self, params, no_log_values):
        """The option values to mask in all output. A kubeconfig option is no_log, which would mask
        every string of a kubeconfig dict (even "v1"): keep only its secrets, and never a path."""
        values = set(no_log_values)
        kubeconfig = params.get("kubeconfig") if self.kube_connection else None
        if kubeconfig is not None:
            from ansible.module_utils.common.parameters import _return_datastructure_name

            values.difference_update(_return_datastructure_name(kubeconfig))
            if isinstance(kubeconfig, dict):
                values.update(kubeconfig_secrets(kubeconfig))
        return values

    def execute(self, params, *, check_mode, no_log=False, module_name="module", progress=None):
        """The handler's result for validated ``params``, or ``{"failed": True, "msg": ...}``;
        never raises. ``warnings`` stays a list in the result for the caller to emit.

        A handler declared with ``reports_progress=True`` is called as
        ``handler(params, check_mode, progress=...)``: ``progress(text)`` shows one line to the
        person watching while the task still runs (the action plugin prints it at once); without a
        ``progress`` from the caller (a module process, whose output is read only at its end, or a
        task with no_log) it does nothing."""
        try:
            result = self.run_handler(params, check_mode, progress)
        except TaskFailure as exc:
            return {"failed": True, "msg": exc.msg, **exc.result_fields()}
        except Exception as exc:  # a bug: keep the traceback for the report
            return {"failed": True, "msg": f"Unexpected {type(exc).__name__} in {module_name}: {exc}",
                    "exception": traceback.format_exc()}
        warnings = list(result.pop("warnings", None) or [])
        for key, what in self.secret_results.items():
            if key in result and not no_log:
                del result[key]
                warnings.append(f"The {what} is left out of the result because the task does not set "
                                f"no_log: true; set it on the task to receive {key}.")
        if warnings:
            result["warnings"] = warnings
        return result

    def run_handler(self, params, check_mode, progress=None):
        """The handler called as it is declared: with ``progress`` when it reports progress."""
        if self.reports_progress:
            return self.handler(params, check_mode, progress=progress or _no_progress)
        return self.handler(params, check_mode)

    def main(self):
        """Run as an Ansible module process (AnsibleModule reads the arguments from stdin)."""
        from ansible.module_utils.basic import AnsibleModule

        module = AnsibleModule(argument_spec=self.argument_spec, supports_check_mode=True,
                               **self.constraints)
        secret_values = self.secret_option_values(module.params, module.no_log_values)
        module.no_log_values.clear()
        module.no_log_values.update(secret_values)
        result = self.execute(module.params, check_mode=module.check_mode, no_log=module.no_log,
                              module_name=module._name)
        for warning in result.pop("warnings", []):
            module.warn(warning)
        if result.pop("failed", False):
            module.fail_json(**result)
        module.exit_json(**result)


def _no_progress(_text):
    """Progress where nobody can see it until the task ends: dropped (the result says it all)."""


def masked(result, secret_values):
    """``result`` with every no_log option value replaced, as AnsibleModule.exit_json does."""
    from ansible.module_utils.common.parameters import remove_values

    return remove_values(result, secret_values) if secret_values else result


# -- for tests and in-process callers ---------------------------------------------------------

def validate_params(argument_spec, args):
    """Task arguments checked and completed as AnsibleModule would do (with the connection options)."""
    return ModuleDeclaration(argument_spec, None).validate(args)[0]


def run_handler(handler, params, check_mode):
    """Call a handler outside Ansible; a TaskFailure propagates."""
    return handler(params, check_mode)
