"""The pure logic of k8s_rbac, k8s_service_account and k8s_access_review: input checks and the objects
or questions they build, without a cluster (the integration tests cover the API work)."""

from __future__ import annotations

import pytest

from tests.playbook import load_module

rbac = load_module("k8s_rbac")
accounts = load_module("k8s_service_account")
access_review = load_module("k8s_access_review")

from ansible_collections.tekton_cd.pipeline.plugins.module_utils import kube_review as review  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_client import ApiResource  # noqa: E402
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError  # noqa: E402


def rbac_params(**given):
    params = {option: None for option in rbac.ARGUMENT_SPEC}
    params.update(state="present", force_conflicts=True)
    params.update(given)
    return params


def rule(verbs=("get",), resources=("pods",), api_groups=("",), resource_names=None):
    return {"api_groups": list(api_groups), "resources": list(resources), "verbs": list(verbs),
            "resource_names": resource_names}


def sa_subject(name, namespace=None):
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def checked_specs(params):
    specs = rbac.specs_of(params)
    rbac.validate(specs, params["state"])
    return [spec for _, spec in specs]


# -- k8s_rbac ----------------------------------------------------------------------------------

def test_a_namespaced_spec_makes_a_role_and_its_binding():
    (spec,) = checked_specs(rbac_params(
        name="deployer", namespace="health", labels={"team": "ci"},
        rules=[rule(["get", "list"], ["deployments"], ["apps"]), rule(["get"], ["pods/log"])],
        subjects=[sa_subject("deploy", "health-ci"), sa_subject("local"),
                  {"kind": "User", "name": "alice", "namespace": None}],
    ))
    assert rbac.desired_role(spec) == {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "deployer", "namespace": "health", "labels": {"team": "ci"}},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
                  {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}],
    }
    assert rbac.desired_binding(spec) == {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "deployer", "namespace": "health", "labels": {"team": "ci"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "ServiceAccount", "name": "deploy", "namespace": "health-ci"},
                     {"kind": "ServiceAccount", "name": "local", "namespace": "health"},
                     {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    }


def test_without_a_namespace_the_role_and_binding_are_cluster_wide():
    (spec,) = checked_specs(rbac_params(name="viewer", rules=[rule(resource_names=["one"])],
                                        subjects=[{"kind": "Group", "name": "devs", "namespace": None}]))
    role, binding = rbac.desired_role(spec), rbac.desired_binding(spec)
    assert role["kind"] == "ClusterRole" and "namespace" not in role["metadata"]
    assert role["rules"][0]["resourceNames"] == ["one"]
    assert binding["kind"] == "ClusterRoleBinding" and binding["roleRef"]["kind"] == "ClusterRole"
    assert binding["subjects"] == [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]


def test_binding_an_existing_cluster_role_in_one_namespace_defines_no_role():
    (spec,) = checked_specs(rbac_params(name="ns-admin", namespace="health", cluster_role="admin",
                                        binding_name="admins", subjects=[sa_subject("admin", "health-ci")]))
    assert rbac.desired_role(spec) is None
    binding = rbac.desired_binding(spec)
    assert binding["kind"] == "RoleBinding" and binding["metadata"]["name"] == "admins"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "admin"}
    # state=absent deletes only the binding, never the ClusterRole it refers to
    assert rbac.absent_targets(spec) == [("RoleBinding", "admins", "health")]


def test_a_role_without_subjects_has_no_binding_and_absent_removes_both_names():
    (spec,) = checked_specs(rbac_params(name="r", namespace="ns", rules=[rule()]))
    assert rbac.desired_binding(spec) is None
    assert rbac.absent_targets(spec) == [("RoleBinding", "r", "ns"), ("Role", "r", "ns")]


def test_list_elements_take_the_task_namespace_unless_they_give_their_own():
    element = {option: None for option in rbac.ARGUMENT_SPEC["roles"]["options"]}
    params = rbac_params(namespace="health", roles=[
        {**element, "name": "a", "rules": [rule()]},
        {**element, "name": "b", "namespace": "other", "cluster_role": "view", "subjects": [sa_subject("x")]},
    ])
    specs = checked_specs(params)
    assert [(s["name"], s["namespace"]) for s in specs] == [("a", "health"), ("b", "other")]
    assert rbac.desired_binding(specs[1])["subjects"][0]["namespace"] == "other"


def test_role_refs_compare_on_kind_name_and_group():
    desired = {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}}
    assert rbac.same_role_ref({"roleRef": dict(desired["roleRef"])}, desired)
    assert not rbac.same_role_ref({"roleRef": {**desired["roleRef"], "kind": "ClusterRole"}}, desired)
    assert not rbac.same_role_ref({"roleRef": {**desired["roleRef"], "name": "b"}}, desired)


@pytest.mark.parametrize(("given", "expected"), [
    ({"rules": [rule(["get", "gte"])]},
     "Invalid value for option 'rules[0].verbs': unknown verb 'gte'; use one of get, list, watch"),
    ({"rules": [rule(["Get", "lst"])]}, "unknown verbs 'Get', 'lst'"),
    ({"rules": []}, "Invalid value for option 'rules': the role 'r' has no rules; list at least one rule"),
    ({}, "neither rules nor cluster_role is given for 'r'"),
    ({"rules": [rule(verbs=[])]}, "Invalid value for option 'rules[0].verbs': verbs is empty"),
    ({"rules": [rule(api_groups=[])]}, 'api_groups is empty; list at least one entry ("*" for all), and ""'),
    ({"rules": [rule(resources=["pods/log/x"])]}, "'pods/log/x' is not a resource name"),
    ({"rules": [rule()], "cluster_role": "view"}, "rules and cluster_role are both given"),
    ({"cluster_role": "admin"},
     "Invalid value for option 'subjects': binding the ClusterRole 'admin' needs subjects"),
    ({"rules": [rule()], "subjects": [{"kind": "User", "name": "u", "namespace": "x"}]},
     "Invalid value for option 'subjects[0].namespace': a User has no namespace"),
    ({"rules": [rule()], "subjects": [sa_subject("Bad_Name")]},
     "'Bad_Name' is not a valid service account name"),
    ({"rules": [rule()], "namespace": "Not_A_Namespace"}, "'Not_A_Namespace' is not a valid namespace name"),
    ({"rules": [rule()], "binding_name": "a/b"},
     "Invalid value for option 'binding_name': 'a/b' is not a valid"),
    ({"rules": [rule()], "labels": {"n": 1}}, "the value of 'n' is int 1, not a string"),
])
def test_bad_rbac_input_is_refused_with_one_sentence(given, expected):
    params = rbac_params(name="r", namespace="ns", **{k: v for k, v in given.items() if k != "namespace"})
    if "namespace" in given:
        params["namespace"] = given["namespace"]
    with pytest.raises(KubeError) as error:
        checked_specs(params)
    assert expected in error.value.msg
    assert error.value.msg.replace("e.g. ", "").count(". ") == 0 and error.value.msg.endswith(".")


def test_a_cluster_wide_binding_needs_the_namespace_of_its_service_accounts():
    with pytest.raises(KubeError, match="the service account 'x' has no namespace"):
        checked_specs(rbac_params(name="r", rules=[rule()], subjects=[sa_subject("x")]))


def test_the_single_and_the_list_form_do_not_mix():
    with pytest.raises(KubeError, match="Invalid value for option 'rules': it cannot be combined with roles"):
        rbac.specs_of(rbac_params(rules=[rule()], roles=[]))
    with pytest.raises(KubeError, match="neither name nor roles is given"):
        rbac.specs_of(rbac_params())


def test_the_same_role_twice_in_one_list_is_refused():
    element = {option: None for option in rbac.ARGUMENT_SPEC["roles"]["options"]}
    params = rbac_params(namespace="ns", roles=[{**element, "name": "a", "rules": [rule()]},
                                                {**element, "name": "a", "rules": [rule(["list"])]}])
    with pytest.raises(KubeError, match=r"'roles\[1\].name': 'a' is given twice"):
        checked_specs(params)


def test_absent_needs_no_rules():
    (spec,) = checked_specs(rbac_params(name="r", namespace="ns", state="absent"))
    assert rbac.absent_targets(spec)[1] == ("Role", "r", "ns")


# -- k8s_service_account -----------------------------------------------------------------------

def sa_params(**given):
    params = {option: None for option in accounts.ARGUMENT_SPEC}
    params.update(state="present", force_conflicts=False, namespace="ci")
    params.update(given)
    return params


def test_a_service_account_carries_only_the_options_given():
    params = sa_params(name="builder", labels={"a": "b"}, image_pull_secrets=["pull"], secrets=["git"],
                       automount_token=False)
    ((where, account),) = accounts.accounts_of(params)
    accounts.validate(params, [(where, account)])
    assert where == ""
    assert accounts.desired_account("ci", account) == {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": "ci", "labels": {"a": "b"}},
        "imagePullSecrets": [{"name": "pull"}], "secrets": [{"name": "git"}],
        "automountServiceAccountToken": False,
    }
    # Empty lists are left out, so that server-side apply drops what this task set before.
    ((_, bare),) = accounts.accounts_of(sa_params(name="b", image_pull_secrets=[], secrets=[], labels={}))
    assert accounts.desired_account("ci", bare) == {"apiVersion": "v1", "kind": "ServiceAccount",
                                                    "metadata": {"name": "b", "namespace": "ci"}}


@pytest.mark.parametrize(("given", "expected"), [
    ({"name": "Builder"}, "Invalid value for option 'name': 'Builder' is not a valid service account name"),
    ({"name": "b", "namespace": "No"}, "'No' is not a valid namespace name"),
    ({"name": "b", "image_pull_secrets": ["a b"]},
     "option 'image_pull_secrets': 'a b' is not a valid secret"),
    ({"name": "b", "labels": {"bad key": "v"}}, "key 'bad key' is not a valid label key"),
    ({"name": "b", "service_accounts": [{"name": "c"}]},
     "'name': it cannot be combined with service_accounts"),
    ({"service_accounts": [{"name": "a"}, {"name": "a"}]},
     "'service_accounts[1]': service account 'a' is listed"),
    ({}, "neither name nor service_accounts is given"),
    ({"name": "b", "namespace": None}, "Invalid value for option 'namespace': no namespace is given"),
    ({"namespace": None, "service_accounts": [{"name": "a", "namespace": "x"}, {"name": "b"}]},
     "option 'service_accounts[1].namespace': no namespace is given"),
    ({"service_accounts": [{"name": "a", "namespace": "No"}]},
     "option 'service_accounts[0].namespace': 'No' is not a valid namespace name"),
    ({"service_accounts": [{"name": "a"}, {"name": "a", "namespace": "ci"}]},
     "'service_accounts[1]': service account 'a' is listed twice in namespace 'ci'"),
])
def test_bad_service_account_input_is_refused(given, expected):
    params = sa_params(**given)
    with pytest.raises(KubeError) as error:
        accounts.validate(params, accounts.accounts_of(params))
    assert expected in error.value.msg


def test_service_accounts_may_each_give_their_namespace():
    params = sa_params(namespace=None, service_accounts=[{"name": "a", "namespace": "t1"},
                                                         {"name": "a", "namespace": "t2"}])
    checked = accounts.accounts_of(params)
    accounts.validate(params, checked)
    assert [accounts.desired_account("ci", account)["metadata"] for _where, account in checked] == [
        {"name": "a", "namespace": "t1"}, {"name": "a", "namespace": "t2"}]


# -- k8s_access_review -------------------------------------------------------------------------

def review_params(**given):
    params = {option: None for option in access_review.ARGUMENT_SPEC}
    params.update(allowed=[], denied=[], fail_on_mismatch=True)
    params.update(given)
    return params


class Discovery:
    """What ``place`` asks of a KubeService: the served resources by group and plural name."""

    SERVED = {("", "pods"): True, ("apps", "deployments"): True, ("", "secrets"): True,
              ("", "namespaces"): False, ("rbac.authorization.k8s.io", "clusterroles"): False}

    def resource_named(self, group, plural):
        namespaced = self.SERVED.get((group, plural))
        return None if namespaced is None else ApiResource(group and f"{group}/v1" or "v1", "Kind", plural,
                                                           namespaced)


def action(verb, resource, **more):
    return {"verb": verb, "resource": resource, "group": more.pop("group", ""), "subresource": None,
            "namespace": None, "name": None, **more}


@pytest.mark.parametrize("account", ["ci:deployer", {"namespace": "ci", "name": "deployer"}])
def test_a_service_account_is_reviewed_with_the_groups_of_its_tokens(account):
    user, groups, described = review.identity_of(review_params(service_account=account, groups=["extra"]))
    assert user == "system:serviceaccount:ci:deployer"
    assert groups == ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated", "extra"]
    assert described == 'ServiceAccount "ci:deployer"'


def test_a_user_or_groups_get_system_authenticated_added():
    assert review.identity_of(review_params(user="alice"))[:2] == ("alice", ["system:authenticated"])
    assert review.identity_of(review_params(groups=["devs"]))[:2] == ("", ["devs", "system:authenticated"])


@pytest.mark.parametrize(("given", "expected"), [
    ({}, "Invalid value for option 'service_account': no identity is given"),
    ({"service_account": "ci:a", "user": "u"}, "service_account and user are both given"),
    ({"service_account": "justaname"}, "'justaname' does not name a namespace and an account"),
    ({"service_account": ["ci", "a"]}, "is neither namespace:name nor a dict"),
])
def test_a_bad_identity_is_refused(given, expected):
    with pytest.raises(KubeError) as error:
        review.identity_of(review_params(**given))
    assert expected in error.value.msg


def test_actions_get_defaults_and_resources_discovery_calls_cluster_scoped_no_namespace():
    params = review_params(namespace="health", allowed=[action("get", "pods/log"),
                                                        action("create", "deployments", group="apps")],
                           denied=[action("create", "namespaces"),
                                   action("bind", "clusterroles", group="rbac.authorization.k8s.io"),
                                   action("get", "secrets", namespace="default", name="x"),
                                   action("list", "widgets", group="example.com", namespace=""),
                                   action("list", "gadgets", group="example.com")])
    actions = review.place(review.actions_of(params), Discovery())
    assert [(a["verb"], a["resource"], a["subresource"], a["namespace"], a["expected"]) for a in actions] == [
        ("get", "pods", "log", "health", "allowed"),
        ("create", "deployments", "", "health", "allowed"),
        ("create", "namespaces", "", "", "denied"),
        ("bind", "clusterroles", "", "", "denied"),
        ("get", "secrets", "", "default", "denied"),
        ("list", "widgets", "", "", "denied"),
        ("list", "gadgets", "", "health", "denied"),  # not served: the default namespace
    ]
    assert review.describe(actions[0]) == 'get pods/log in namespace "health"'
    assert review.describe(actions[3]) == "bind clusterroles.rbac.authorization.k8s.io cluster-wide"
    assert review.describe(actions[4]) == 'get secrets "x" in namespace "default"'
    body = review.review_body("u", ["g"], actions[0])
    assert body["spec"] == {"user": "u", "groups": ["g"], "resourceAttributes": {
        "verb": "get", "resource": "pods", "subresource": "log", "namespace": "health"}}


@pytest.mark.parametrize(("given", "expected"), [
    ({"allowed": [action("gets", "pods")]},
     "Invalid value for option 'allowed[0].verb': unknown verb 'gets'"),
    ({"denied": [action("get", "pods/log", subresource="exec")]},
     "names a subresource and so does subresource"),
    ({"allowed": [action("get", "/log")]}, "'/log' is not a resource name"),
    ({}, "there is nothing to review"),
])
def test_bad_actions_are_refused(given, expected):
    with pytest.raises(KubeError) as error:
        review.actions_of(review_params(**given))
    assert expected in error.value.msg


def test_mismatches_read_as_sentences():
    row = {**review.place(review.actions_of(review_params(allowed=[action("get", "pods", namespace="a")])),
                          Discovery())[0],
           "allowed": False, "reason": ""}
    assert review.mismatch_sentence(row) == 'may not get pods in namespace "a" but should'
    row.update(expected="denied", allowed=True, reason="RBAC: allowed by X")
    assert review.mismatch_sentence(row) == ('may get pods in namespace "a" but should not '
                                             "(RBAC: allowed by X)")


def test_reviews_take_the_task_namespace_and_do_not_mix_with_the_single_form():
    element = {option: None for option in access_review.ARGUMENT_SPEC["reviews"]["options"]}
    params = review_params(namespace="health", reviews=[
        {**element, "user": "a", "allowed": [action("get", "pods")], "denied": []},
        {**element, "groups": ["g"], "namespace": "other", "allowed": [], "denied": [action("get", "pods")]},
    ])
    reviews = review.reviews_of(params)
    assert [(where, r["namespace"]) for where, r in reviews] == [("reviews[0]", "health"),
                                                                 ("reviews[1]", "other")]
    placed = review.place(review.actions_of(reviews[1][1], reviews[1][0]), Discovery())
    assert placed[0]["namespace"] == "other"
    bad = review_params(reviews=[{**element, "user": "a", "allowed": [action("gett", "pods")], "denied": []}])
    ((where, first),) = review.reviews_of(bad)
    with pytest.raises(KubeError, match=r"'reviews\[0\].allowed\[0\].verb': unknown verb 'gett'"):
        review.actions_of(first, where)
    with pytest.raises(KubeError, match="'user': it cannot be combined with reviews"):
        review.reviews_of(review_params(user="a", reviews=[]))
    with pytest.raises(KubeError, match="'reviews': the list is empty"):
        review.reviews_of(review_params(reviews=[]))
