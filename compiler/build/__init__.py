"""Image builds (``compile image``) and flag-driven submission (``compile run``).

The modules split pure construction from the edge: :mod:`.image` (references, build plans,
digest pinning), :mod:`.docker` and :mod:`.kaniko` (command lines and the build Job),
:mod:`.run` (the manifest ``compile run`` synthesises) are pure; :mod:`.git` and the ``run_*``
functions of :mod:`.docker` are the only places that start processes.
"""
