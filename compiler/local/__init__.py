"""``compile local``: the pods a cluster would run for compiled objects, planned as plain data.

Pure: ``plan`` turns emitted objects into pods with the kubelet's environment (``env``), cluster
DNS names (``hosts``) and the controllers' names, labels and annotations; the runner elsewhere
turns a plan into processes. The testbed's node agent uses the same environment rules.
"""
