"""manifest-compiler: AIchor-style manifests to Kubernetes JobSet, RayJob and Job objects."""

__version__ = "0.1.0"
