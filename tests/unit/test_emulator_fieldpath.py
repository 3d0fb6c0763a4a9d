from emulator.kube.fieldpath import (
    from_fields_v1,
    key_element,
    lookup,
    path_string,
    remove,
    to_fields_v1,
)


def test_fields_v1_marks_members_with_children_by_a_dot():
    paths = {("f:data",), ("f:data", "f:a"), ("f:metadata", "f:labels", "f:app")}
    tree = to_fields_v1(paths)
    assert tree == {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}
    assert from_fields_v1(tree) == paths


def test_key_elements_sort_fields_and_default_the_protocol():
    assert (
        key_element({"protocol": "UDP", "containerPort": 53}, ("containerPort", "protocol"))
        == 'k:{"containerPort":53,"protocol":"UDP"}'
    )
    assert key_element({"port": 80}, ("port", "protocol")) == 'k:{"port":80,"protocol":"TCP"}'


def test_path_strings_as_conflicts_print_them():
    assert path_string(("f:spec", 'k:{"name":"c"}', "f:image")) == '.spec[name="c"].image'
    assert path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


def test_lookup_and_remove_follow_keys_and_values():
    obj = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}]}, "f": ["x", "y"]}
    assert lookup(obj, ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")) == (True, "1")
    assert lookup(obj, ("f:spec", "f:missing")) == (False, None)
    remove(obj, ("f:spec", "f:containers", 'k:{"name":"a"}'))
    remove(obj, ("f:f", 'v:"x"'))
    assert obj == {"spec": {"containers": [{"name": "b"}]}, "f": ["y"]}
