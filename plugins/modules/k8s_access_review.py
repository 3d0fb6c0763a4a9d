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
    every ClusterRole and ClusterRoleBinding of the cluster and every Role and RoleBinding of the
    namespaces the questions are about (their uid and resourceVersion, read with four LISTs). The
    next run with the same questions asks nothing while that fingerprint is unchanged and the record
    is younger than O(record_max_age), since RBAC decisions depend on nothing else the API holds, so
    the answers cannot have changed. Any change to one of those objects (a binding added, a role
    edited, one deleted and made again) changes the fingerprint, and every question is asked again;
    RBAC in namespaces no question is about (another tenant's) grants nothing there and is left out.
  - The identity is a service account (O(service_account)), with the groups its tokens carry
    (C(system:serviceaccounts), C(system:serviceaccounts:<namespace>), C(system:authenticated)),
    or a user (O(user)) and/or groups (O(groups)); C(system:authenticated) is added as the API
    server adds it to every authenticated request.
  - Read-only; it never reports a change, and runs the same in check mode (a review stores
    nothing). The connecting identity needs C(create) on C(subjectaccessreviews).
version_added: "0.1.0"
author: tekton-cd maintainers (@tekton-cd)
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
          - Namespace of the action; defaults to O(namespace), except for the resources the API
            server's discovery reports as cluster-scoped (such as C(namespaces), C(clusterroles),
            C(nodes), or a cluster-scoped custom resource), which are asked about cluster-wide as the
            API server does. A resource the server does not serve gets O(namespace).
          - Give C("") to ask about all namespaces at once.
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
    description: Nothing to show; a review changes nothing (the record ConfigMap is bookkeeping).
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
    subresource: {description: "The subresource, or an empty string.", type: str}
    namespace: {description: "The namespace, or an empty string for cluster-wide.", type: str}
    name: {description: "The object name, or an empty string.", type: str}
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
  description: Digest of the RBAC objects the answers were valid for (with O(record) only).
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

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_review import (  # noqa: E402
    REVIEW_OPTIONS,
    review_access,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import ModuleDeclaration  # noqa: E402

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


def ensure(params, check_mode):
    """Questions, parallel reviews, placement by discovery and the RBAC fingerprint record are
    kube_review's; this module is their options and documentation."""
    return review_access(params, check_mode)


MODULE = ModuleDeclaration(ARGUMENT_SPEC, ensure)


def main():
    MODULE.main()


if __name__ == "__main__":
    main()
