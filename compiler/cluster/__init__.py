"""Talking to a cluster: submit, watch, status, logs, cancel, list.

The only package that imports the kubernetes client, and only inside functions (client.py), so
that ``compile`` and ``compile --help`` start without it. ``state`` and ``kinds`` are pure.
"""
