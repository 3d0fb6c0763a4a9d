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
  - With O(record), a passing review is remembered in a ConfigMap together with a fingerprint of
    every Role, ClusterRole, RoleBinding and ClusterRoleBinding of the cluster (their uid and
    resourceVersion, read with four LISTs). The next run with the same questions asks nothing while
    that fingerprint is unchanged and the record is younger than O(record_max_age), since RBAC
    decisions depend on nothing else the API holds, so the answers cannot have changed. Any change to any
    RBAC object anywhere (a binding added elsewhere, a role edited, one deleted and made again)
    changes the fingerprint, and every question is asked again.
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
  record:
    description:
      - ConfigMap that remembers the last passing review (the RBAC fingerprint, a digest of the
        questions and expectations, and the time; no secret). Created or updated only after a
        review that passed with a new fingerprint, so a run with nothing changed writes nothing.
      - Keep it where none of the reviewed identities may write, which the review can prove by
        listing C(update) and C(patch) of it in their O(denied) actions; whoever can write it and
        RBAC objects could make a review be skipped.
      - Omitted, every run asks every question.
    type: dict
    suboptions:
      namespace:
        description: Namespace of the ConfigMap (it must exist).
        type: str
        required: true
      name:
        description: Name of the ConfigMap.
        type: str
        required: true
  record_max_age:
    description:
      - Seconds a record stays valid even with RBAC unchanged; older, every question is asked again.
        This bounds what the fingerprint cannot see (a webhook authorizer's own policy, an API server
        restarted with other authorization flags). C(0) means the record is never used.
    type: int
    default: 86400
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
reviewed:
  description:
    - Whether the questions were asked. False when O(record) showed that nothing RBAC depends on has
      changed since the last passing review; the rows then repeat its answers (each C(ok)), with that
      review's time as their reason.
  returned: always
  type: bool
fingerprint:
  description: Digest of the cluster's RBAC objects the answers were valid for (with O(record) only).
  returned: when O(record) is given
  type: str
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
    "record": {"type": "dict", "options": {"namespace": {"type": "str", "required": True},
                                           "name": {"type": "str", "required": True}}},
    "record_max_age": {"type": "int", "default": 86400},
    "fail_on_mismatch": {"type": "bool", "default": True},
}
RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
RECORD_KEYS = ("fingerprint", "questions", "reviewed-at")
RECORD_LABELS = {"app.kubernetes.io/part-of": "tekton-cd", "app.kubernetes.io/component": "access-review"}



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
    record = record_of(params)
    questions = {}
    for user, groups, _, actions in plans:
        for action in actions:
            questions.setdefault(_question(user, groups, action), (user, groups, action))

    extra = {}
    if record is None:
        answers = answer_all(params, check_mode, questions)
    else:
        # The fingerprint is taken before any question is asked: a change made while they are being
        # answered then shows up as a new fingerprint on the next run, never as a stale record.
        service = connect_service(params, check_mode)
        fingerprint, asked = rbac_fingerprint(service), questions_digest(plans)
        extra["fingerprint"] = fingerprint
        remembered = remembered_review(service, record, fingerprint, asked, params["record_max_age"])
        if remembered is not None:
            reason = f"as answered by the review of {remembered}; no RBAC object has changed since"
            answers = {question: (asked_action["expected"] == "allowed", reason)
                       for question, (_user, _groups, asked_action) in questions.items()}
            return _report(params, plans, answers, reviewed=False, **extra)
        answers = answer_all(params, check_mode, questions)

    result = _report(params, plans, answers, reviewed=True, **extra)
    if record is not None and not result.get("failed") and not check_mode:
        warning = remember_review(service, record, extra["fingerprint"], questions_digest(plans))
        if warning:
            result.setdefault("warnings", []).append(warning)
    return result


def _report(params, plans, answers, **extra):
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
                  "identity": report["identity"], **extra}
    else:
        result = {"changed": False,
                  "reviews": [{key: report[key] for key in ("identity", "results", "mismatches")}
                              for report in reports],
                  "mismatches": [f"{report['described']} {mismatch}" for report in reports
                                 for mismatch in report["mismatches"]], **extra}
    failing = [report for report in reports if report["mismatches"]]
    if failing and params["fail_on_mismatch"]:
        # Failed through the result (not a KubeError) so the table of answers stays in the output.
        result.update(failed=True, msg=" ".join(_failure_sentence(report) for report in failing))
    return result


# -- the record of the last passing review ------------------------------------------------------

def record_of(params):
    """(namespace, name) of the record ConfigMap, or None; KubeError on a bad name or age."""
    record = params.get("record")
    if (params.get("record_max_age") or 0) < 0:
        raise KubeError.invalid("record_max_age", f"{params['record_max_age']} is negative",
                                "give a number of seconds, or 0 to never use the record")
    if record is None:
        return None
    if not is_rfc1123_label(record["namespace"]):
        raise KubeError.invalid("record.namespace", f"{record['namespace']!r} is not a namespace name",
                                "give a lowercase RFC 1123 label, e.g. health-ci")
    if not is_dns_subdomain(record["name"]):
        raise KubeError.invalid("record.name", f"{record['name']!r} is not a ConfigMap name",
                                "give a lowercase DNS subdomain, e.g. tekton-cd-access-review")
    return record["namespace"], record["name"]


def rbac_fingerprint(service):
    """Digest of (kind, namespace, name, uid, resourceVersion) of every RBAC object of the cluster.

    An object's resourceVersion changes on every write to it, and a deleted and re-made object has a
    new uid; a list's own resourceVersion would not do, since a real API server answers with the
    store's revision, which every write of any kind (events, leases) moves on."""
    import hashlib

    entries = []
    for kind in RBAC_KINDS:
        for item in service.list(RBAC_API, kind):
            metadata = item.get("metadata") or {}
            entries.append("\t".join((kind, metadata.get("namespace") or "", metadata.get("name") or "",
                                      metadata.get("uid") or "", metadata.get("resourceVersion") or "")))
    return "sha256:" + hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def questions_digest(plans):
    """Digest of every identity, action and expectation: a record is valid only for the same ones."""
    import hashlib
    import json

    keys = (*QUESTION_KEYS, "expected")
    canonical = [[user, list(groups), [[action[key] for key in keys] for action in actions]]
                 for user, groups, _described, actions in plans]
    return "sha256:" + hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


def remembered_review(service, record, fingerprint, asked, max_age):
    """The time of the remembered passing review when it still holds (same fingerprint, same
    questions, younger than max_age), else None."""
    import datetime

    namespace, name = record
    live = service.get("v1", "ConfigMap", name, namespace)
    data = (live or {}).get("data") or {}
    if max_age == 0 or data.get("fingerprint") != fingerprint or data.get("questions") != asked:
        return None
    try:
        reviewed_at = datetime.datetime.fromisoformat(data.get("reviewed-at") or "")
    except ValueError:
        return None
    if reviewed_at.tzinfo is None:
        return None
    age = (datetime.datetime.now(datetime.UTC) - reviewed_at).total_seconds()
    return data["reviewed-at"] if 0 <= age < max_age else None


def remember_review(service, record, fingerprint, asked):
    """Store the passing review's fingerprint (server-side apply); a warning instead when it cannot
    be stored, since the review itself passed."""
    import datetime

    namespace, name = record
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(RECORD_LABELS)},
            "data": {"fingerprint": fingerprint, "questions": asked, "reviewed-at": now}}
    try:
        service.apply(body)
    except KubeError as error:
        return (f"The review passed but could not be recorded in ConfigMap {namespace}/{name}, so the next "
                f"run asks every question again: {error.msg}")
    return None


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
