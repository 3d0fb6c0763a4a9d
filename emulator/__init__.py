"""Test doubles served over real sockets on 127.0.0.1: the emulated Kubernetes API server.

`EmulatedCluster` is imported lazily so that `emulator.server` (shared with the fake IBM
Cloud) can be used without loading the Kubernetes emulator.
"""

__all__ = ["EmulatedCluster"]


def __getattr__(name):
    if name == "EmulatedCluster":
        from emulator.cluster import EmulatedCluster

        return EmulatedCluster
    raise AttributeError(name)
