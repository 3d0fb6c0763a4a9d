#!/usr/bin/python
"""Ansible module k8s_access_review: prove what an identity can and cannot do, by SubjectAccessReview."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_access_review
short_description: Check with the API server what an identity may and may not do
description:
  - Asks the API server's authorizer (a C(SubjectAccessReview) per distinct action) whether an
    identity may perform each action of O(allowed) and O(denied), and fails listing every answer
    that differs from the expectation, so least privilege is proven rather than assumed.
  - Several identities are reviewed in one task with O(reviews).
  - There is no batch review in the API; from six distinct questions on, the reviews are sent over
    four connections at once.
  - The identity is a service account (O(service_account)), with the groups its tokens carry
    (C(system:serviceaccounts), C(system:serviceaccounts:<namespace>), C(system:authenticated)),
    or a user (O(user)) and/or groups (O(groups)); C(system:authenticated) is added as the API
    server adds it to every authenticated request.
  - Read-only; it never reports a change, and runs the same in check mode (a review stores
    nothing). The connecting identity needs C(create) on C(subjectaccessreviews).
version_added: "0.1.0"
author: tekton-cd maintainers
options:
  service_account:
    description:
      - The service account to review, as C(namespace:name) or as a dict with C(namespace) and
        C(name). Mutually exclusive with O(user).
      - One of O(service_account), O(user), O(groups) or O(reviews) is required.
    type: raw
  user:
    description: The user name to review (as the authenticator reports it).
    type: str
  groups:
    description: Groups of the identity, in addition to those described above.
    type: list
    elements: str
  namespace:
    description:
      - Namespace of the actions that do not give one. Without it such actions are asked
        cluster-wide (for a namespaced resource, that means in all namespaces at once).
      - With O(reviews), the namespace of every element that does not give its own.
    type: str
  allowed:
    description: Actions the identity must be allowed to perform.
    type: list
    elements: dict
    default: []
    suboptions: &action_options
      verb:
        description:
          - The API verb, among C(get), C(list), C(watch), C(create), C(update), C(patch),
            C(delete), C(deletecollection), C(impersonate), C(bind), C(escalate), C(use),
            C(approve), C(sign) and C("*").
        type: str
        required: true
      resource:
        description:
          - Plural resource name, such as C(deployments); C(pods/log) is short for C(resource=pods)
            with C(subresource=log).
        type: str
        required: true
      group:
        description: API group of the resource; C("") (the default) is the core group.
        type: str
        default: ""
      subresource:
        description: Subresource, such as C(log) or C(exec).
        type: str
      namespace:
        description:
          - Namespace of the action; defaults to O(namespace), except for the cluster-scoped resources
            of Kubernetes, Tekton Triggers and OpenShift (such as C(namespaces), C(clusterroles),
            C(nodes)), which are asked about cluster-wide as the API server does.
          - Give C("") for a cluster-scoped custom resource, or to ask about all namespaces at once.
        type: str
      name:
        description: Name of the object, for an action on one object.
        type: str
  denied:
    description: Actions the identity must not be allowed to perform; same suboptions as O(allowed).
    type: list
    elements: dict
    default: []
    suboptions: *action_options
  reviews:
    description:
      - Several identities in one task (their questions are asked together); each element takes
        the options O(service_account), O(user), O(groups), O(namespace), O(allowed) and O(denied)
        as described above. Cannot be combined with those options at the task level, except
        O(namespace), which is then the default of the elements.
    type: list
    elements: dict
    suboptions:
      service_account:
        description: As O(service_account).
        type: raw
      user:
        description: As O(user).
        type: str
      groups:
        description: As O(groups).
        type: list
        elements: str
      namespace:
        description: As O(namespace).
        type: str
      allowed:
        description: As O(allowed).
        type: list
        elements: dict
        default: []
        suboptions: *action_options
      denied:
        description: As O(denied).
        type: list
        elements: dict
        default: []
        suboptions: *action_options
  fail_on_mismatch:
    description:
      - Fail when an answer differs from the expectation (the answers stay in the result). With
        false, the task only reports them (RV(results), RV(reviews), RV(mismatches)).
    type: bool
    default: true
extends_documentation_fragment:
  - tekton_cd.pipeline.kube_connection
attributes:
  check_mode:
    support: full
    description:
      - Runs as usual; a review is not a change of state. Its requests carry C(dryRun=All) in check
        mode, which the API server answers the same way.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Prove the deploy account can deploy the chart in its namespace and nothing more
  tekton_cd.pipeline.k8s_access_review:
    service_account: health-ci:deployer
    namespace: health
    allowed:
      - {verb: create, resource: deployments, group: apps}
      - {verb: patch, resource: services}
      - {verb: get, resource: pods/log}
      - {verb: list, resource: secrets}
    denied:
      - {verb: get, resource: secrets, namespace: default}
      - {verb: create, resource: deployments, group: apps, namespace: kube-system}
      - {verb: create, resource: namespaces}
      - {verb: create, resource: roles, group: rbac.authorization.k8s.io}
      - {verb: bind, resource: clusterroles, group: rbac.authorization.k8s.io}

- name: Report what a group of people may do, without failing
  tekton_cd.pipeline.k8s_access_review:
    groups: [release-managers]
    allowed:
      - {verb: list, resource: pipelineruns, group: tekton.dev, namespace: health-ci}
    fail_on_mismatch: false
  register: review

- name: Review every account of the pipeline in one task
  tekton_cd.pipeline.k8s_access_review:
    namespace: health
    reviews:
      - service_account: health-ci:builder
        denied:
          - {verb: list, resource: pods}
      - service_account: health-ci:namespace-admin
        allowed:
          - {verb: create, resource: rolebindings, group: rbac.authorization.k8s.io}
        denied:
          - {verb: list, resource: secrets, namespace: kube-system}
"""

RETURN = r"""
results:
  description: One row per action of O(allowed) then O(denied), in order.
  returned: unless O(reviews) is given
  type: list
  elements: dict
  contains:
    verb: {description: The verb asked about., type: str}
    resource: {description: The resource., type: str}
    group: {description: The API group., type: str}
    subresource: {description: The subresource, or an empty string., type: str}
    namespace: {description: The namespace, or an empty string for cluster-wide., type: str}
    name: {description: The object name, or an empty string., type: str}
    expected: {description: C(allowed) or C(denied)., type: str}
    allowed: {description: The API server's answer., type: bool}
    ok: {description: Whether the answer is the expected one., type: bool}
    reason:
      description: The authorizer's reason, such as the binding that allows it (may be empty).
      type: str
  sample:
    - {verb: create, resource: deployments, group: apps, subresource: "", namespace: health, name: "",
       expected: allowed, allowed: true, ok: true,
       reason: 'RBAC: allowed by RoleBinding "chart-deployer/health" of Role "chart-deployer" to
         ServiceAccount "deployer/health-ci"'}
mismatches:
  description:
    - One sentence per action whose answer differs from the expectation; with O(reviews), each
      starts with the identity it is about.
  returned: always
  type: list
  elements: str
  sample:
    - 'may get secrets in namespace "default" but should not (RBAC: allowed by ClusterRoleBinding
      "too-wide" of ClusterRole "view" to Group "system:serviceaccounts")'
identity:
  description: The user and groups that were reviewed.
  returned: unless O(reviews) is given
  type: dict
  sample: {user: "system:serviceaccount:health-ci:deployer",
           groups: ["system:serviceaccounts", "system:serviceaccounts:health-ci", "system:authenticated"]}
reviews:
  description: One entry per element of O(reviews), in order.
  returned: when O(reviews) is given
  type: list
  elements: dict
  contains:
    identity: {description: As RV(identity)., type: dict}
    results: {description: As RV(results)., type: list, elements: dict}
    mismatches: {description: The mismatches of this identity (without the identity in front)., type: list,
                 elements: str}
"""

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at, requested  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (  # noqa: E402
    check_verbs,
    is_dns_subdomain,
    is_rfc1123_label,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (  # noqa: E402
    ModuleDeclaration,
    connect_service,
)

REVIEW_API = "authorization.k8s.io/v1"
AUTHENTICATED = "system:authenticated"
QUESTION_KEYS = ("verb", "resource", "group", "subresource", "namespace", "name")
PARALLEL_BELOW = 6
PARALLEL_CONNECTIONS = 4
# Cluster-scoped resources of the built-in API groups (Kubernetes 1.28), Tekton and OpenShift: the
# default namespace is not applied to them, since the API server asks about them without one (and a
# namespaced question would also count RoleBindings, which never grant these).
CLUSTER_SCOPED = {
    "": {"namespaces", "nodes", "persistentvolumes", "componentstatuses"},
    "admissionregistration.k8s.io": {"mutatingwebhookconfigurations", "validatingwebhookconfigurations",
                                     "validatingadmissionpolicies", "validatingadmissionpolicybindings"},
    "apiextensions.k8s.io": {"customresourcedefinitions"},
    "apiregistration.k8s.io": {"apiservices"},
    "authentication.k8s.io": {"tokenreviews", "selfsubjectreviews"},
    "authorization.k8s.io": {"subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"},
    "certificates.k8s.io": {"certificatesigningrequests", "clustertrustbundles"},
    "flowcontrol.apiserver.k8s.io": {"flowschemas", "prioritylevelconfigurations"},
    "networking.k8s.io": {"ingressclasses", "ipaddresses"},
    "node.k8s.io": {"runtimeclasses"},
    "rbac.authorization.k8s.io": {"clusterroles", "clusterrolebindings"},
    "scheduling.k8s.io": {"priorityclasses"},
    "storage.k8s.io": {"csidrivers", "csinodes", "storageclasses", "volumeattachments"},
    "triggers.tekton.dev": {"clusterinterceptors", "clustertriggerbindings"},
    "project.openshift.io": {"projects", "projectrequests"},
}

ACTION_OPTIONS = {
    "verb": {"type": "str", "required": True},
    "resource": {"type": "str", "required": True},
    "group": {"type": "str", "default": ""},
    "subresource": {"type": "str"},
    "namespace": {"type": "str"},
    "name": {"type": "str"},
}
REVIEW_OPTIONS = {
    "service_account": {"type": "raw"},
    "user": {"type": "str"},
    "groups": {"type": "list", "elements": "str"},
    "allowed": {"type": "list", "elements": "dict", "default": [], "options": ACTION_OPTIONS},
    "denied": {"type": "list", "elements": "dict", "default": [], "options": ACTION_OPTIONS},
}
ARGUMENT_SPEC = {
    **REVIEW_OPTIONS,
    "namespace": {"type": "str"},
    "reviews": {"type": "list", "elements": "dict",
                "options": {**REVIEW_OPTIONS, "namespace": {"type": "str"}}},
    "fail_on_mismatch": {"type": "bool", "default": True},
}



# -- input -------------------------------------------------------------------------------------

def reviews_of(params):
    """The requested reviews as (option path for messages, review options) pairs."""
    reviews = requested(params, "reviews", REVIEW_OPTIONS, shared=("namespace",))
    if not reviews:
        raise KubeError.invalid("reviews", "the list is empty", "list at least one review")
    return reviews


def identity_of(params, where=""):
    """(user, groups, description) of the identity to review; KubeError on a bad or missing one."""
    account, user = params.get("service_account"), params.get("user")
    extra_groups = params.get("groups") or []
    if account is not None and user is not None:
        raise KubeError.invalid(option_at(where, "user"), "service_account and user are both given",
                                "review one identity at a time: give service_account or user")
    if account is not None:
        namespace, name = _split_account(account, option_at(where, "service_account"))
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED]
        groups += [group for group in extra_groups if group not in groups]
        return f"system:serviceaccount:{namespace}:{name}", groups, f'ServiceAccount "{namespace}:{name}"'
    if user is None and not extra_groups:
        raise KubeError.invalid(option_at(where, "service_account"), "no identity is given",
                                "give service_account (namespace:name), or user and/or groups")
    groups = list(extra_groups) + ([AUTHENTICATED] if AUTHENTICATED not in extra_groups else [])
    if user is not None:
        described = f'user "{user}"'
    else:
        described = "groups " + ", ".join(f'"{group}"' for group in extra_groups)
    return user or "", groups, described


def _split_account(account, option):
    if isinstance(account, str):
        namespace, _, name = account.partition(":")
    elif isinstance(account, dict) and set(account) <= {"namespace", "name"}:
        namespace, name = account.get("namespace") or "", account.get("name") or ""
    else:
        raise KubeError.invalid(option, f"{account!r} is neither namespace:name nor a dict",
                                "give e.g. health-ci:deployer or {namespace: health-ci, name: deployer}")
    if not (is_rfc1123_label(namespace) and is_dns_subdomain(name)):
        raise KubeError.invalid(option, f"{account!r} does not name a namespace and an account",
                                "give namespace:name, e.g. health-ci:deployer")
    return namespace, name


def actions_of(params, where=""):
    """The actions to review as dicts (expected: allowed|denied), with defaults filled in."""
    actions = []
    for expected in ("allowed", "denied"):
        for index, given in enumerate(params.get(expected) or []):
            option = option_at(where, f"{expected}[{index}]")
            verb, resource = given["verb"], given["resource"]
            check_verbs(f"{option}.verb", [verb])
            subresource = given.get("subresource") or ""
            if "/" in resource:
                if subresource:
                    raise KubeError.invalid(f"{option}.resource", f"{resource!r} names a subresource and so "
                                            "does subresource", "give the subresource only once")
                resource, _, subresource = resource.partition("/")
            if not resource or "/" in subresource:
                raise KubeError.invalid(f"{option}.resource", f"{given['resource']!r} is not a resource name",
                                        "give a plural resource name such as deployments, or pods/log")
            namespace = given.get("namespace")
            if namespace is None:
                cluster_scoped = resource in CLUSTER_SCOPED.get(given.get("group") or "", ())
                namespace = "" if cluster_scoped else params.get("namespace") or ""
            actions.append({
                "verb": verb, "resource": resource, "group": given.get("group") or "",
                "subresource": subresource, "namespace": namespace, "name": given.get("name") or "",
                "expected": expected,
            })
    if not actions:
        raise KubeError.invalid(option_at(where, "allowed"), "there is nothing to review",
                                "list actions in allowed and/or denied")
    return actions


def describe(action):
    """'create deployments.apps in namespace "health"' — how messages name an action."""
    what = action["resource"] + (f".{action['group']}" if action["group"] else "")
    if action["subresource"]:
        what += f"/{action['subresource']}"
    if action["name"]:
        what += f' "{action["name"]}"'
    where = f' in namespace "{action["namespace"]}"' if action["namespace"] else " cluster-wide"
    return f"{action['verb']} {what}{where}"


def mismatch_sentence(row):
    reason = f" ({row['reason']})" if row["reason"] else ""
    if row["expected"] == "allowed":
        return f"may not {describe(row)} but should{reason}"
    return f"may {describe(row)} but should not{reason}"


# -- API work ----------------------------------------------------------------------------------

def review_body(user, groups, action):
    attributes = {key: action[key] for key in QUESTION_KEYS if action[key]}
    spec = {"groups": groups, "resourceAttributes": attributes}
    if user:
        spec["user"] = user
    return {"apiVersion": REVIEW_API, "kind": "SubjectAccessReview", "spec": spec}


def ask(service, user, groups, action):
    """(allowed, reason) from one SubjectAccessReview. A review stores nothing; in check mode it is
    sent with dryRun=All all the same (the API server answers it identically), so that no request of
    a check run is a write."""
    status = service.create(review_body(user, groups, action)).get("status") or {}
    if status.get("evaluationError") and not status.get("allowed"):
        reason = f"evaluation error: {status['evaluationError']}"
    else:
        reason = status.get("reason") or ""
    return bool(status.get("allowed")) and not status.get("denied"), reason


def answer_all(params, check_mode, questions):
    """Answers to the distinct questions ({question: (user, groups, action)}), as
    {question: (allowed, reason)}.

    There is no batch review API: each question is one request. Below PARALLEL_BELOW of them go one
    after the other over one kept-alive connection; more are spread over PARALLEL_CONNECTIONS
    connections, which cuts the wall time on a distant API server (a round trip each) several fold.
    """
    if len(questions) < PARALLEL_BELOW:
        service = connect_service(params, check_mode)
        return {question: ask(service, *asked) for question, asked in questions.items()}

    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def answer(asked):
        if not hasattr(local, "service"):
            local.service = connect_service(params, check_mode)  # a connection is not thread-safe
        return ask(local.service, *asked)

    with ThreadPoolExecutor(max_workers=PARALLEL_CONNECTIONS) as pool:
        return dict(zip(questions, pool.map(answer, questions.values()), strict=True))


def ensure(params, check_mode):
    plans = []
    for where, review in reviews_of(params):
        plans.append((*identity_of(review, where), actions_of(review, where)))
    questions = {}
    for user, groups, _, actions in plans:
        for action in actions:
            questions.setdefault(_question(user, groups, action), (user, groups, action))
    answers = answer_all(params, check_mode, questions)

    reports = []
    for user, groups, described, actions in plans:
        rows = []
        for action in actions:
            allowed, reason = answers[_question(user, groups, action)]
            rows.append({**action, "allowed": allowed, "reason": reason,
                         "ok": allowed == (action["expected"] == "allowed")})
        reports.append({"identity": {"user": user, "groups": groups}, "described": described, "results": rows,
                        "mismatches": [mismatch_sentence(row) for row in rows if not row["ok"]]})

    if params.get("reviews") is None:
        (report,) = reports
        result = {"changed": False, "results": report["results"], "mismatches": report["mismatches"],
                  "identity": report["identity"]}
    else:
        result = {"changed": False,
                  "reviews": [{key: report[key] for key in ("identity", "results", "mismatches")}
                              for report in reports],
                  "mismatches": [f"{report['described']} {mismatch}" for report in reports
                                 for mismatch in report["mismatches"]]}
    failing = [report for report in reports if report["mismatches"]]
    if failing and params["fail_on_mismatch"]:
        # Failed through the result (not a KubeError) so the table of answers stays in the output.
        result.update(failed=True, msg=" ".join(_failure_sentence(report) for report in failing))
    return result


def _question(user, groups, action):
    return (user, tuple(groups), *(action[key] for key in QUESTION_KEYS))


def _failure_sentence(report):
    total, wrong = len(report["results"]), len(report["mismatches"])
    count = f"{wrong} of {total} answers differ" if wrong > 1 else f"1 of {total} answers differs"
    return (f"Access review of {report['described']}: {count} from what is expected: "
            f"{'; '.join(report['mismatches'])}; fix its roles and bindings (k8s_rbac) or the expectations "
            "in allowed/denied.")


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
