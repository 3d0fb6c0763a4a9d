"""A fake IBM Cloud for tests: IAM, Kubernetes Service (IKS and Red Hat OpenShift on IBM Cloud) and
Container Registry, answering with IBM Cloud's response shapes and error codes.

Split like moto: `models` holds state and the services' rules (no HTTP), `responses` turns HTTP
requests into model calls and model errors into IBM's error bodies, `urls` routes, `exceptions`
holds the error shapes. `FakeIBMCloud` (in `fake`) serves it on 127.0.0.1.
"""

__all__ = ["FakeIBMCloud"]


def __getattr__(name):
    if name == "FakeIBMCloud":
        from emulator.ibmcloud.fake import FakeIBMCloud

        return FakeIBMCloud
    raise AttributeError(name)
