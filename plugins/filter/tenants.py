"""The filter behind a role that provisions several tenants in one run.

{{ one_tenant | tekton_cd.pipeline.per_tenant(tenants) }}

``one_tenant`` is what a role makes for one tenant (a list of objects, or one object), written with
``{pipeline}`` and ``{app}`` where that tenant's pipeline and application namespaces go; ``tenants``
is a list of ``{pipeline_namespace, app_namespace}``. The result is one copy per tenant, in the
tenants' order, flattened into one list: what a module's list option takes, so that N tenants are
one module call per kind instead of N. In Python because Jinja loops over N tenants' nested lists
were the costliest templating of the role.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

PLACEHOLDERS = {"{pipeline}": "pipeline_namespace", "{app}": "app_namespace"}


def per_tenant(one_tenant, tenants):
    entries = one_tenant if isinstance(one_tenant, list) else [one_tenant]
    copies = []
    for tenant in _checked(tenants):
        values = {placeholder: tenant[key] for placeholder, key in PLACEHOLDERS.items()}
        copies.extend(_substituted(entry, values) for entry in entries)
    return copies


def _checked(tenants):
    if not isinstance(tenants, list):
        raise AnsibleFilterError(f"per_tenant: the tenants are a {type(tenants).__name__}, not a list; "
                                 "give a list of {pipeline_namespace, app_namespace}.")
    for index, tenant in enumerate(tenants):
        missing = [key for key in PLACEHOLDERS.values()
                   if not isinstance(tenant, dict) or not isinstance(tenant.get(key), str) or not tenant[key]]
        if missing:
            raise AnsibleFilterError(f"per_tenant: tenant {index} ({tenant!r}) lacks {' and '.join(missing)};"
                                     " give each tenant a pipeline_namespace and an app_namespace.")
    return tenants


def _substituted(value, values):
    if isinstance(value, str):
        for placeholder, namespace in values.items():
            value = value.replace(placeholder, namespace)
        return value
    if isinstance(value, dict):
        return {key: _substituted(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item, values) for item in value]
    return value


class FilterModule:
    def filters(self):
        return {"per_tenant": per_tenant}
