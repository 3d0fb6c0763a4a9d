"""Tekton Pipelines in the emulated cluster: the controller that runs PipelineRuns and TaskRuns."""
