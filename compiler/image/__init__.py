"""Image builds (``compile image``): build plans, docker buildx and kaniko, and the git checks.

:mod:`.plan` (where an image goes and how it is built) and the command lines and Job of
:mod:`.docker` and :mod:`.kaniko` are pure; :mod:`.git` and the ``run_*`` functions of
:mod:`.docker` are the only places that start processes. Image references and digest pinning,
which the core pipeline needs too, live in :mod:`compiler.imageref`.
"""
