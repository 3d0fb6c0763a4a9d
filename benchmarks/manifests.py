"""The objects playbooks/provision.yml makes, as plain manifests for the other tools.

Rendered from the role's own defaults (roles/pipeline_accounts/defaults/main.yml) through the
modules' own ``desired_*`` functions, the same ones the tasks call, so a change to either the
role's defaults or a module's object shape changes what every contender applies. The Tekton
definitions (role pipeline_definitions) come from that role's own templates, defaults and vars,
labelled by tekton_resources' own ``labelled`` function, as its one task applies them.

One difference is on purpose and stated in the report: the cluster-credential Secret that
``k8s_cluster_secret`` writes carries a token issued by a TokenRequest; the other tools apply the
same Secret with a fixed placeholder token, as their users would with a token got beforehand.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLE_DEFAULTS = ROOT / "roles" / "pipeline_accounts" / "defaults" / "main.yml"
DEFINITIONS_ROLE = ROOT / "roles" / "pipeline_definitions"
CLUSTER_LOGIN_DEFAULTS = ROOT / "roles" / "cluster_login" / "defaults" / "main.yml"
COLLECTIONS_DIR = ROOT / ".cache" / "collections"
MODULES = "ansible_collections.tekton_cd.pipeline.plugins.modules"

# Not a credential: the baselines store it where provision.yml stores an issued token.
PLACEHOLDER_TOKEN = "benchmark-placeholder-token"


@dataclass(frozen=True)
class Names:
    """The two namespaces one repetition works in (fresh for each repetition)."""

    pipeline_namespace: str
    app_namespace: str

    def extra_vars(self) -> dict[str, str]:
        return {
            "pipeline_accounts_pipeline_namespace": self.pipeline_namespace,
            "pipeline_accounts_app_namespace": self.app_namespace,
        }

    @property
    def namespaces(self) -> tuple[str, str]:
        return (self.pipeline_namespace, self.app_namespace)


@dataclass(frozen=True)
class Tenants:
    """N tenants of one repetition (the scaling runs): each a (pipeline, application) namespace
    pair, as pipeline_accounts makes for one tenant."""

    tenants: tuple[Names, ...]

    @classmethod
    def named(cls, prefix: str, count: int) -> Tenants:
        return cls(tuple(Names(f"{prefix}-t{index}-ci", f"{prefix}-t{index}-app") for index in range(count)))

    def extra_vars(self) -> dict[str, list[dict[str, str]]]:
        """The bench playbooks' one input (benchmarks/playbooks/tenants-*.yml): the list of tenants."""
        return {
            "bench_tenants": [
                {"pipeline_namespace": names.pipeline_namespace, "app_namespace": names.app_namespace}
                for names in self.tenants
            ]
        }

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(name for names in self.tenants for name in names.namespaces)


def role_defaults(path: Path = ROLE_DEFAULTS) -> dict:
    return yaml.safe_load(path.read_text())


def module(name: str):
    """One of the project's modules, imported through the collection link that `make setup` makes."""
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))
    return importlib.import_module(f"{MODULES}.{name}")


def module_utils(name: str):
    """One of the collection's module_utils, imported like ``module``."""
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))
    return importlib.import_module(f"ansible_collections.tekton_cd.pipeline.plugins.module_utils.{name}")


def provision_objects(names: Names, server: str, ca_pem: str, defaults: dict | None = None) -> list[dict]:
    """The 9 objects of pipeline_accounts, in apply order (namespaces first): 2 namespaces, 3
    service accounts, the deployer's Role, 2 RoleBindings, the cluster-credential Secret."""
    values = dict(defaults or role_defaults())
    values.update(
        {
            "pipeline_accounts_pipeline_namespace": names.pipeline_namespace,
            "pipeline_accounts_app_namespace": names.app_namespace,
        }
    )
    labels = values["pipeline_accounts_labels"]
    ci, app = names.pipeline_namespace, names.app_namespace
    registry = values["pipeline_accounts_registry_secrets"] or None

    namespace_module = module("k8s_namespace")
    objects = [
        namespace_module.desired_namespace({"name": name, "labels": labels})
        for name in dict.fromkeys((ci, app))
    ]

    accounts = module("k8s_service_account")
    objects += [
        accounts.desired_account(
            ci,
            {
                "name": values["pipeline_accounts_builder"],
                "labels": labels,
                "image_pull_secrets": registry,
                "secrets": registry,
                "automount_token": False,
            },
        ),
        accounts.desired_account(ci, {"name": values["pipeline_accounts_deployer"], "labels": labels}),
        accounts.desired_account(ci, {"name": values["pipeline_accounts_namespace_admin"], "labels": labels}),
    ]

    rbac = module("k8s_rbac")
    deployer = {
        "name": values["pipeline_accounts_deployer_role"],
        "namespace": app,
        "labels": labels,
        "rules": values["pipeline_accounts_deployer_rules"]
        + values["pipeline_accounts_deployer_extra_rules"],
        "subjects": [
            {"kind": "ServiceAccount", "name": values["pipeline_accounts_deployer"], "namespace": ci}
        ],
    }
    admin = {
        "name": values["pipeline_accounts_namespace_admin"],
        "namespace": app,
        "labels": labels,
        "cluster_role": "admin",
        "subjects": [
            {"kind": "ServiceAccount", "name": values["pipeline_accounts_namespace_admin"], "namespace": ci}
        ],
    }
    objects += [rbac.desired_role(deployer), rbac.desired_binding(deployer), rbac.desired_binding(admin)]

    secret = module("k8s_cluster_secret")
    cluster_name = secret.ARGUMENT_SPEC["cluster_name"]["default"]
    frame = {
        "server": server.rstrip("/"),
        "ca": base64.b64encode(ca_pem.encode()).decode() if ca_pem else None,
        "insecure": False,
        "cluster_name": cluster_name,
        "namespace": app,
    }
    request_record = json.dumps(
        {"lifetime": values["pipeline_accounts_token_lifetime"], "audiences": []}, separators=(",", ":")
    )
    objects.append(
        secret.desired_secret(
            {"name": values["pipeline_accounts_credential_secret"], "namespace": ci, "labels": labels},
            frame,
            f"{ci}/{values['pipeline_accounts_deployer']}",
            PLACEHOLDER_TOKEN,
            "",
            request_record,
        )
    )
    return objects


def definition_objects(names: Names) -> list[dict]:
    """The Tekton Tasks and Pipeline of pipeline_definitions as its task applies them: the role's
    templates (its vars' list, in apply order) rendered with its defaults resolved against the
    repetition's namespaces, then namespaced and labelled by tekton_resources' ``labelled``."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(DEFINITIONS_ROLE / "templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["to_json"] = json.dumps
    # What the play sees: the earlier roles' defaults, this role's defaults and vars, then the
    # repetition's namespaces (extra vars, which win over everything).
    context = {**role_defaults(CLUSTER_LOGIN_DEFAULTS), **role_defaults()}
    context.update(role_defaults(DEFINITIONS_ROLE / "defaults" / "main.yml"))
    context.update(role_defaults(DEFINITIONS_ROLE / "vars" / "main.yml"))
    context.update(names.extra_vars())
    own = {key for key in context if key.startswith("pipeline_definitions_")}
    for _ in range(5):  # defaults name other defaults; a few passes resolve the chains
        context.update({key: _resolve(environment, context[key], context) for key in own})
    definitions = [
        yaml.safe_load(environment.get_template(name).render(**context))
        for name in context["pipeline_definitions_templates"]
    ]
    tekton = module_utils("tekton_definitions")
    labels = tekton.identity_labels(context["pipeline_definitions_pipeline_name"])
    desired, problems = tekton.labelled(definitions, context["pipeline_definitions_namespace"], labels)
    if problems:
        raise ValueError(f"the pipeline_definitions templates do not render to definitions: {problems}")
    return desired


def _resolve(environment: jinja2.Environment, value, context: dict):
    """A default's value with its Jinja expressions rendered (as Ansible's templating of a string)."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        try:
            return environment.from_string(value).render(**context)
        except jinja2.UndefinedError:
            return value  # names a value resolved in a later pass
    if isinstance(value, list):
        return [_resolve(environment, item, context) for item in value]
    if isinstance(value, dict):
        return {key: _resolve(environment, item, context) for key, item in value.items()}
    return value


def provision_and_definition_objects(
    names: Names, server: str, ca_pem: str, defaults: dict | None = None
) -> list[dict]:
    """Everything provision.yml applies: pipeline_accounts' 9 objects, then the Tekton definitions."""
    return provision_objects(names, server, ca_pem, defaults) + definition_objects(names)


def tenant_objects(tenants: Tenants, server: str, ca_pem: str, defaults: dict | None = None) -> list[dict]:
    """pipeline_accounts' 9 objects for each tenant, tenant after tenant (the scaling runs)."""
    defaults = defaults or role_defaults()
    return [body for names in tenants.tenants for body in provision_objects(names, server, ca_pem, defaults)]


def write_manifests(objects: list[dict], path: Path) -> Path:
    """One multi-document YAML file, in apply order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    path.chmod(0o600)
    return path


def summary(objects: list[dict]) -> str:
    """'2 Namespace, 3 ServiceAccount, ...' in first-seen order."""
    counts: dict[str, int] = {}
    for body in objects:
        counts[body["kind"]] = counts.get(body["kind"], 0) + 1
    return ", ".join(f"{count} {kind}" for kind, count in counts.items())
