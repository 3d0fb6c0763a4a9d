"""Tekton Pipelines in the emulated cluster: the project's own CRDs for tekton.dev (installed on
request, `EmulatedCluster(tekton=True)`), and the simulated Tekton controller."""
