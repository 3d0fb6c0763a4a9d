"""Stands in for ansible-test's pip bootstrap script, which it downloads from a host outside PyPI:
installs pip from the interpreter's own bundled wheel (ensurepip), then the packages ansible-test
asks for (its pinned pip, and setuptools and wheel unless told --no-setuptools / --no-wheel) from
the package index pip is configured with."""

import ensurepip
import os
import subprocess
import sys

BOOTSTRAP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}

environment = dict(os.environ)  # ensurepip empties the pip settings (index, CA) from os.environ
ensurepip.bootstrap(upgrade=True)
arguments = [argument for argument in sys.argv[1:] if argument not in BOOTSTRAP_ONLY_OPTIONS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments], env=environment))
