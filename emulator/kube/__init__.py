"""The emulated Kubernetes API server: models (state and rules), responses (HTTP), urls (routing),
exceptions (Status errors), plus one module per fidelity rule (ssa, rbac, selectors, openapi, …)."""
