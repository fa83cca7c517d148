"""manifest-compiler: AIchor-style manifests to Kubernetes JobSet, RayJob and Job objects."""

import os

__version__ = "0.1.0"

# pydantic looks for plugins through importlib.metadata on first use (~25 ms at every start);
# this tool uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
