"""The structure server-side apply sees in an object: which maps are structs, which lists are
associative (merged by key), sets or atomic. Built-in kinds use the list keys of the Kubernetes
1.28 API (`x-kubernetes-list-map-keys` / patch merge keys); custom resources use their CRD schema.

Each node answers three questions: the field set of a value (what an applier owns), the paths that
changed between two values (what an updater takes over), and how an applied value merges into a
live one.
"""

from __future__ import annotations

import copy

from emulator.kube.fieldpath import Path, field, key_element, value_element

# (parent field, list field) -> merge keys, for built-in kinds. Parent "*" matches any parent.
BUILTIN_LIST_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("*", "containers"): ("name",),
    ("*", "initContainers"): ("name",),
    ("*", "ephemeralContainers"): ("name",),
    ("*", "volumes"): ("name",),
    ("*", "env"): ("name",),
    ("*", "volumeMounts"): ("mountPath",),
    ("*", "volumeDevices"): ("devicePath",),
    ("*", "conditions"): ("type",),
    ("*", "ownerReferences"): ("uid",),
    ("*", "hostAliases"): ("ip",),
    ("*", "topologySpreadConstraints"): ("topologyKey", "whenUnsatisfiable"),
    ("*", "resourceClaims"): ("name",),
    ("*", "schedulingGates"): ("name",),
    ("*", "imagePullSecrets"): ("name",),
    ("ServiceAccount", "secrets"): ("name",),
    ("container", "ports"): ("containerPort", "protocol"),
    ("Service", "ports"): ("port", "protocol"),
}
BUILTIN_SET_LISTS = {"finalizers"}
# Fields whose value is a granular map (string -> value) rather than a struct.
BUILTIN_MAP_FIELDS = {
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "limits",
    "requests",
    "matchLabels",
}
# Struct fields the Go types hold by pointer: absent in an empty object (matters for Update ownership).
BUILTIN_POINTER_STRUCTS = {
    "persistentVolumeClaimRetentionPolicy",
    "rollingUpdate",
    "securityContext",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "emptyDir",
    "configMap",
    "secret",
    "persistentVolumeClaim",
    "httpGet",
    "tcpSocket",
    "exec",
    "affinity",
}
# Lists a Go zero value serializes as null (no omitempty): already present before any Update.
BUILTIN_NON_OMITEMPTY_LISTS = {"containers", "rules"}
# Structs replaced as a whole by apply (`+structType=atomic`, `+mapType=atomic`).
BUILTIN_ATOMIC_FIELDS = {
    ("Deployment", "selector"),
    ("StatefulSet", "selector"),
    ("ReplicaSet", "selector"),
    ("Job", "selector"),
    ("PodDisruptionBudget", "selector"),
    ("Service", "selector"),
    ("*", "roleRef"),
    ("*", "labelSelector"),
    ("*", "namespaceSelector"),
    ("*", "podSelector"),
}


class Node:
    """A type in the apply schema. kind: struct | map | list_map | list_set | atomic | deduced."""

    def __init__(
        self,
        kind: str,
        fields: dict | None = None,
        elem: Node | None = None,
        keys: tuple = (),
        open_struct: bool = False,
        granular_children: bool = True,
        field_name: str = "",
    ):
        self.kind = kind
        self.field_name = field_name
        self.fields = fields or {}
        self.elem = elem
        self.keys = keys
        self.open_struct = open_struct  # unknown keys are kept (x-kubernetes-preserve-unknown-fields)
        self.granular_children = granular_children  # Update: new child maps are owned as members

    def child(self, name: str) -> tuple[Node, bool]:
        """(type of the named child, whether it is a declared field)."""
        if self.kind == "struct":
            if name in self.fields:
                return self.fields[name], True
            return DEDUCED, False
        if self.kind in ("map", "deduced"):
            return (self.elem or DEDUCED), False
        return DEDUCED, False

    def item(self) -> Node:
        return self.elem or DEDUCED

    def is_leaf_for(self, value) -> bool:
        if self.kind == "atomic":
            return True
        if self.kind in ("struct", "map", "deduced"):
            return not isinstance(value, dict)
        if self.kind in ("list_map", "list_set"):
            return not isinstance(value, list)
        return True


DEDUCED = Node("deduced")
ATOMIC = Node("atomic")


class BuiltinNode(Node):
    """Built-in kinds: every map is a struct whose keys are declared fields, lists per the tables."""

    def __init__(self, kind_name: str, parent_field: str = "", field_name: str = "", atomic: bool = False):
        super().__init__("atomic" if atomic else "struct")
        self.kind_name = kind_name
        self.parent_field = parent_field
        self.field_name = field_name

    def child(self, name: str) -> tuple[Node, bool]:
        if self.kind == "atomic":
            return ATOMIC, True
        if (self.kind_name, name) in BUILTIN_ATOMIC_FIELDS or ("*", name) in BUILTIN_ATOMIC_FIELDS:
            return BuiltinNode(self.kind_name, self.field_name, name, atomic=True), True
        if name in BUILTIN_SET_LISTS:
            return Node("list_set", field_name=name), True
        keys = self._list_keys(name)
        if keys is not None and self._atomic_items(name):
            # Items are atomic structs (LocalObjectReference, ObjectReference): owned whole, by key.
            return Node("list_map", elem=ATOMIC, keys=keys, field_name=name), True
        if keys is not None:
            item_parent = (
                "container" if name in ("containers", "initContainers", "ephemeralContainers") else name
            )
            return Node(
                "list_map", elem=BuiltinNode(self.kind_name, item_parent, ""), keys=keys, field_name=name
            ), True
        return BuiltinNode(self.kind_name, self.field_name or self.parent_field, name), True

    def _atomic_items(self, name: str) -> bool:
        return name == "imagePullSecrets" or (self.kind_name == "ServiceAccount" and name == "secrets")

    def _list_keys(self, name: str):
        if self.kind_name == "ServiceAccount" and name == "imagePullSecrets":
            return None  # atomic there: no patch strategy on ServiceAccount.imagePullSecrets
        if name == "ports":
            if self.parent_field == "container":
                return BUILTIN_LIST_KEYS[("container", "ports")]
            if self.kind_name == "Service" and self.field_name == "spec":
                return BUILTIN_LIST_KEYS[("Service", "ports")]
            return None
        return BUILTIN_LIST_KEYS.get((self.kind_name, name)) or BUILTIN_LIST_KEYS.get(("*", name))

    def is_leaf_for(self, value) -> bool:
        return self.kind == "atomic" or not isinstance(value, dict | list)

    @property
    def new_child_is_member(self) -> bool:
        return self.field_name in BUILTIN_MAP_FIELDS or self.field_name in BUILTIN_POINTER_STRUCTS


def node_from_openapi(schema: dict | None) -> Node:
    """The apply type of a CRD's structural openAPIV3Schema."""
    if not schema:
        return DEDUCED
    if schema.get("x-kubernetes-int-or-string"):
        return ATOMIC
    kind = schema.get("type")
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        if schema.get("x-kubernetes-map-type") == "atomic":
            return ATOMIC
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if properties:
            fields = {name: node_from_openapi(sub) for name, sub in properties.items()}
            return Node(
                "struct", fields=fields, open_struct=bool(schema.get("x-kubernetes-preserve-unknown-fields"))
            )
        if isinstance(additional, dict):
            return Node("map", elem=node_from_openapi(additional))
        return DEDUCED
    if kind == "array":
        list_type = schema.get("x-kubernetes-list-type", "atomic")
        if list_type == "map":
            return Node(
                "list_map",
                elem=node_from_openapi(schema.get("items")),
                keys=tuple(schema.get("x-kubernetes-list-map-keys") or ()),
            )
        if list_type == "set":
            return Node("list_set")
        return ATOMIC
    if kind is None and schema.get("x-kubernetes-preserve-unknown-fields"):
        return DEDUCED
    return ATOMIC


def object_node(kind_name: str, crd_schema: dict | None, is_custom: bool) -> Node:
    if not is_custom:
        return BuiltinNode(kind_name)
    root = node_from_openapi(crd_schema)
    if root.kind != "struct":
        root = Node("struct", fields={}, open_struct=True)
    # metadata of custom resources is still ObjectMeta: typed like the built-in one.
    fields = dict(root.fields)
    fields["metadata"] = BuiltinNode(kind_name, "", "metadata")
    return Node("struct", fields=fields, open_struct=root.open_struct)


# ---------------------------------------------------------------- field sets of applied values


def field_set(value, node: Node, path: Path = ()) -> set[Path]:
    """The fields an applier owns by sending `value` (structured-merge-diff's ToFieldSet)."""
    result: set[Path] = set()
    _walk_set(value, node, path, result)
    return result


def _walk_set(value, node: Node, path: Path, out: set[Path]) -> None:
    if node.is_leaf_for(value):
        out.add(path)
        return
    if isinstance(value, dict):
        for name, child_value in value.items():
            child_node, declared = node.child(name)
            child_path = path + (field(name),)
            _walk_set(child_value, child_node, child_path, out)
            if child_value is None or (isinstance(child_value, dict) and not child_value) or not declared:
                out.add(child_path)
        return
    if node.kind == "list_map":
        for item in value:
            item_path = path + (key_element(item, node.keys),) if isinstance(item, dict) else path
            if isinstance(item, dict):
                _walk_set(item, node.item(), item_path, out)
            out.add(item_path)
        return
    if node.kind == "list_set":
        for item in value:
            out.add(path + (value_element(item),))
        return
    out.add(path)


# ---------------------------------------------------------------- what an update changed


def changed_paths(
    old, new, node: Node, path: Path = (), is_custom: bool = False
) -> tuple[set[Path], set[Path]]:
    """(added or modified, removed) paths between two values, as an Update's ownership sees them."""
    changed: set[Path] = set()
    removed: set[Path] = set()
    _compare(old, new, node, path, changed, removed, is_custom, True, True, False)
    return changed, removed


def _compare(old, new, node, path, changed, removed, is_custom, old_present, new_present, fresh):
    """`fresh`: inside a subtree the old object did not have even as a Go zero value (a new list
    item, a new pointer struct or map), where every new map is itself a member."""
    old_container = isinstance(old, dict | list) and not node.is_leaf_for(old)
    new_container = isinstance(new, dict | list) and not node.is_leaf_for(new)
    # Empty (or null) containers on both sides, or a new empty one, compare as leaves (structured-merge-diff
    # promotes them), so e.g. a defaulted `resources: {}` is owned by the writer.
    both_empty = (not old) and (not new) and new_present and (old_present or isinstance(new, dict | list))
    if (
        not (old_container or new_container)
        or both_empty
        or (old_container != new_container and old_present and new_present)
    ):
        if not new_present:
            removed.add(path)
        elif not old_present or old != new:
            changed.add(path)
        return
    if isinstance(new if new_present else old, dict):
        old_map = old if isinstance(old, dict) else {}
        new_map = new if isinstance(new, dict) else {}
        for name in list(old_map) + [k for k in new_map if k not in old_map]:
            child_node, declared = node.child(name)
            child_path = path + (field(name),)
            in_old, in_new = name in old_map, name in new_map
            new_member = not in_old and (fresh or _owned_as_member(node, child_node, declared, is_custom))
            _compare(
                old_map.get(name),
                new_map.get(name),
                child_node,
                child_path,
                changed,
                removed,
                is_custom,
                in_old,
                in_new,
                new_member,
            )
            child_is_container = isinstance(new_map.get(name), dict | list) and not child_node.is_leaf_for(
                new_map.get(name)
            )
            if in_new and child_is_container and new_member:
                changed.add(child_path)
            if in_old and not in_new:
                removed.add(child_path)
        return
    if node.kind == "list_map":
        old_items = {key_element(i, node.keys): i for i in (old or []) if isinstance(i, dict)}
        new_items = {key_element(i, node.keys): i for i in (new or []) if isinstance(i, dict)}
        for element in list(old_items) + [e for e in new_items if e not in old_items]:
            item_path = path + (element,)
            in_old, in_new = element in old_items, element in new_items
            _compare(
                old_items.get(element),
                new_items.get(element),
                node.item(),
                item_path,
                changed,
                removed,
                is_custom,
                in_old,
                in_new,
                not in_old,
            )
            if in_new and not in_old:
                changed.add(item_path)
            elif in_old and not in_new:
                removed.add(item_path)
        return
    if node.kind == "list_set":
        old_values = {value_element(v) for v in (old or [])}
        new_values = {value_element(v) for v in (new or [])}
        changed.update(path + (e,) for e in new_values - old_values)
        removed.update(path + (e,) for e in old_values - new_values)
        return
    if old != new:
        changed.add(path)


def _owned_as_member(parent: Node, child: Node, declared: bool, is_custom: bool) -> bool:
    """Whether a map newly created by an Update is itself a member (``".": {}``) of the updater's set.

    The real server compares against the decoded empty Go object, where non-pointer struct fields
    already exist; custom resources start from an empty map, so every new map counts.
    """
    if is_custom or not declared:
        return True
    if isinstance(child, BuiltinNode):
        return child.new_child_is_member
    if child.kind in ("list_map", "list_set"):
        return child.field_name not in BUILTIN_NON_OMITEMPTY_LISTS
    return False


# ---------------------------------------------------------------- merging an applied value


def merge(live, applied, node: Node):
    """The live value with the applied one merged in (structured merge: by field, by key)."""
    if applied is None or live is None or node.is_leaf_for(applied) or node.is_leaf_for(live):
        return copy.deepcopy(applied)
    if isinstance(applied, dict) and isinstance(live, dict):
        result = copy.deepcopy(live)
        for name, value in applied.items():
            child_node, _ = node.child(name)
            result[name] = merge(live.get(name), value, child_node)
        return result
    if node.kind == "list_map" and isinstance(live, list) and isinstance(applied, list):
        result = copy.deepcopy(live)
        index = {key_element(i, node.keys): n for n, i in enumerate(result) if isinstance(i, dict)}
        for item in applied:
            element = key_element(item, node.keys) if isinstance(item, dict) else None
            if element in index:
                result[index[element]] = merge(result[index[element]], item, node.item())
            else:
                result.append(copy.deepcopy(item))
        return result
    if node.kind == "list_set" and isinstance(live, list) and isinstance(applied, list):
        result = copy.deepcopy(live)
        result.extend(copy.deepcopy(v) for v in applied if v not in result)
        return result
    return copy.deepcopy(applied)


def leaf_paths(value, node: Node, path: Path = ()) -> dict[Path, object]:
    """Every leaf (scalar or atomic) path of `value` with its value: what apply conflicts compare."""
    out: dict[Path, object] = {}
    _walk_leaves(value, node, path, out)
    return out


def _walk_leaves(value, node, path, out):
    if node.is_leaf_for(value) or (isinstance(value, dict | list) and not value):
        out[path] = value
        return
    if isinstance(value, dict):
        for name, child_value in value.items():
            child_node, _ = node.child(name)
            _walk_leaves(child_value, child_node, path + (field(name),), out)
    elif node.kind == "list_map":
        for item in value:
            if isinstance(item, dict):
                _walk_leaves(item, node.item(), path + (key_element(item, node.keys),), out)
    elif node.kind == "list_set":
        for item in value:
            out[path + (value_element(item),)] = item
    else:
        out[path] = value
