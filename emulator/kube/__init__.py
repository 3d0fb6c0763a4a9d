"""The emulated Kubernetes API server: models (`ClusterState`, a facade over storage, tokens,
authorization, admission, writes and controllers: state and rules without HTTP), responses (HTTP),
urls (routing), exceptions (Status errors), plus one module per fidelity rule (ssa, rbac,
selectors, openapi, goyaml, …)."""
