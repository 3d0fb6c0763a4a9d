"""Several tenants in one stage call: what a role makes for one tenant, repeated per tenant.

    per_tenant(one_tenant, tenants)

``one_tenant`` is a list of objects (a module's list option), written with ``{pipeline}`` and
``{app}`` where a tenant's pipeline and application namespaces go; ``tenants`` is a list of
``{pipeline_namespace, app_namespace}``. The result is one copy per tenant, in the tenants' order,
in one list. An entry that the namespaces of a tenant make equal to an earlier one of the same
tenant is left out (a tenant whose two namespaces are one).

The stage (plugins/action/stage.py) calls it after Ansible templated one tenant's objects, for the
options a call names in ``per_tenant``: templating then costs what one tenant costs, whatever the
number of tenants, where a Jinja filter's result of N tenants was walked and tagged by Ansible
value by value (4 of the 5 s of a 50-tenant stage, profiled).
"""

from __future__ import annotations

PLACEHOLDERS = {"{pipeline}": "pipeline_namespace", "{app}": "app_namespace"}


def per_tenant(one_tenant, tenants):
    copies = []
    for tenant in tenants:
        values = {placeholder: tenant[key] for placeholder, key in PLACEHOLDERS.items()}
        made = []  # (entry, its copy) of this tenant
        for entry in one_tenant:
            copy = _substituted(entry, values)
            # Two entries that differ only by {pipeline} and {app} are one for a tenant whose two
            # namespaces are one; entries equal as written, or of two tenants, stay two, so the
            # module reports the clash (a name given twice, a namespace two tenants claim).
            if any(other == copy and earlier != entry for earlier, other in made):
                continue
            made.append((entry, copy))
        copies.extend(copy for _entry, copy in made)
    return copies


def malformed_tenant(tenants):
    """A sentence on the first tenant that is not {pipeline_namespace, app_namespace}, or None."""
    if not isinstance(tenants, list):
        return (f"the tenants are a {type(tenants).__name__}, not a list of "
                "{pipeline_namespace, app_namespace}")
    for index, tenant in enumerate(tenants):
        missing = [key for key in PLACEHOLDERS.values()
                   if not isinstance(tenant, dict) or not isinstance(tenant.get(key), str) or not tenant[key]]
        if missing:
            return (f"tenant {index} ({tenant!r}) lacks {' and '.join(missing)}; give each tenant a "
                    "pipeline_namespace and an app_namespace")
    return None


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
