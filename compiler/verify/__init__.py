"""``compile verify``: drift between live objects and what the manifests and policies make now.

Pure: :mod:`.fields` reads server-side apply's managedFields, :mod:`.drift` compares one object,
:mod:`.rules` finds objects compiled under other policies than today's. Cluster reads are in
:mod:`compiler.cluster.live`; the command is in :mod:`compiler.cli.verify`.
"""
