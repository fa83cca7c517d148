"""A node agent for the testbed: pods bound to its Node run as local processes.

See testbed/README.md, "Pods that execute"."""
