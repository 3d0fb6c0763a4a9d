"""Check a module task's inputs without running it: the module's own validation, and nothing else.

Every tekton-cd handler checks all of its input first and only then connects (``kube_client.connect``
for Kubernetes, ``ibmcloud_common.Transport.request`` for IBM Cloud); each module's integration
tests hold it to that, since "bad input changes nothing" depends on it. So the handler itself is
the check: it is run with those two doors closed, and reaching either means every input was
accepted. There is no second copy of any rule (no Jinja range checks, no per-module validate
function to keep in step): a rule added to a module is checked here the day it is added.

    failure = check_task_inputs(MODULE, args)   # None, or the module's one-sentence TaskFailure

The doors are closed by swapping the two functions for the duration of the check. That is safe
because Ansible runs each task in a worker process of its own, forked for that task and ended
after it, and the check task runs no other task's code.
"""

from __future__ import annotations

from contextlib import contextmanager


class NetworkReached(BaseException):
    """Raised where a handler would first talk to an API: everything before it was accepted.
    A BaseException, so a handler's ``except Exception`` cannot mistake it for an API failure."""


def _refuse(*_args, **_kwargs):
    raise NetworkReached()


@contextmanager
def offline():
    """No connection to a Kubernetes API server or to IBM Cloud can be made inside the block."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils import ibmcloud_common, kube_client

    saved_connect, saved_request = kube_client.connect, ibmcloud_common.Transport.request
    kube_client.connect = _refuse
    ibmcloud_common.Transport.request = _refuse
    try:
        yield
    finally:
        kube_client.connect = saved_connect
        ibmcloud_common.Transport.request = saved_request


def check_task_inputs(declaration, args):
    """None when ``args`` pass the module's argument spec and its handler's own checks, else the
    TaskFailure the task would have failed with."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import TaskFailure

    try:
        params, _secrets = declaration.validate(args)
    except TaskFailure as failure:
        return failure
    return check_validated_inputs(declaration, params)


def check_validated_inputs(declaration, params):
    """The same check for ``params`` the module's argument spec already accepted
    (``declaration.validate``). The handler runs in check mode as a second guard: should a handler
    ever reach an API another way, its requests would still be dry runs."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import TaskFailure

    try:
        with offline():
            declaration.run_handler(params, True)
    except NetworkReached:
        return None
    except TaskFailure as failure:
        return failure
    return None
