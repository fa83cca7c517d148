"""Reviewing changes of output: golden files and policy/template diffs (pure; no file access).

The shell (``compiler/cli/review.py``) compiles, reads and writes; this package only compares.
"""
