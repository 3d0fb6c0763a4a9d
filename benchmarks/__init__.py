"""Reproducible comparisons of tekton-cd with kubernetes.core and kubectl (`make bench`)."""
