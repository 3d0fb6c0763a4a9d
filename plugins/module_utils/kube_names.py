"""The API server's rules for names, labels and annotations, checked before anything is sent.

    check_namespace_name("namespace", params["namespace"])      # KubeError.invalid if it is not one
    check_labels("labels", params.get("labels"))                # keys, string values, label values
    check_annotations("annotations", params.get("annotations"))
    is_dns_subdomain(name), is_rfc1123_label(name)              # for messages of the module's own
    check_verbs("rules[0].verbs", ["get", "lst"])               # RBAC verbs (k8s_rbac, k8s_access_review)

A module checks its input with these, so that bad input fails with one sentence naming the option
and the fix, and every module agrees with the API server (and with each other) on what is valid.
"""

from __future__ import annotations

import re

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
# The verbs the API server's RBAC authorizer knows (the standard ones and those of special rights).
RBAC_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
              "impersonate", "bind", "escalate", "use", "approve", "sign", "*")


def is_rfc1123_label(name):
    """A namespace name: at most 63 of a-z, 0-9 and '-', starting and ending with a letter or digit."""
    return isinstance(name, str) and len(name) <= 63 and bool(RFC1123_LABEL.match(name))


def is_dns_subdomain(name):
    """Most object names (service accounts, secrets): dot-separated RFC 1123 labels, at most 253."""
    return isinstance(name, str) and 0 < len(name) <= 253 and bool(DNS_SUBDOMAIN.match(name))


def is_qualified_key(key):
    """A label or annotation key: an optional DNS subdomain prefix and '/', then a qualified name."""
    if not isinstance(key, str):
        return False
    prefix, slash, name = key.rpartition("/")
    if slash and not is_dns_subdomain(prefix):
        return False
    return 0 < len(name) <= 63 and bool(QUALIFIED_NAME.match(name))


def check_namespace_name(option, value):
    """KubeError.invalid unless ``value`` is a valid namespace name (None is left to the caller)."""
    if value is not None and not is_rfc1123_label(value):
        raise KubeError.invalid(option, f"{value!r} is not a valid namespace name",
                                "use a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 characters, "
                                "starting and ending with a letter or digit)")


def check_labels(option, labels):
    """KubeError.invalid for the first bad key or value of a labels dict."""
    _check_string_map(option, labels, "label")
    for key, value in (labels or {}).items():
        if not (len(value) <= 63 and LABEL_VALUE.match(value)):
            raise KubeError.invalid(option, f"the value {value!r} of {key!r} is not a valid label value",
                                    "use at most 63 letters, digits, '-', '_' and '.', starting and ending "
                                    "with a letter or digit")


def check_annotations(option, annotations):
    """KubeError.invalid for the first bad key or non-string value of an annotations dict."""
    _check_string_map(option, annotations, "annotation")


def _check_string_map(option, mapping, what):
    for key, value in (mapping or {}).items():
        if not is_qualified_key(key):
            raise KubeError.invalid(option, f"key {key!r} is not a valid {what} key",
                                    "use [prefix/]name with an optional DNS subdomain prefix and a name "
                                    "of at most 63 letters, digits, '-', '_' and '.', starting and ending "
                                    "with a letter or digit")
        if not isinstance(value, str):
            raise KubeError.invalid(option, f"the value of {key!r} is {type(value).__name__} {value!r}, "
                                    "not a string", f"quote it in YAML, e.g. {key}: \"{value}\"")


def check_verbs(option, verbs):
    """KubeError.invalid naming every verb that RBAC does not know (a typo would grant nothing)."""
    unknown = [verb for verb in verbs if verb not in RBAC_VERBS]
    if unknown:
        raise KubeError.invalid(option, f"unknown verb{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(repr(verb) for verb in unknown)}",
                                f"use one of {', '.join(RBAC_VERBS)}")
