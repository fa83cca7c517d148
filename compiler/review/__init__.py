"""Reviewing changes of output: golden files and policy/template diffs.

The comparisons (:mod:`.golden`, :mod:`.diff`, :mod:`.fielddiff`, :mod:`.compiled`) are pure;
:mod:`.outputs` compiles what is compared, :mod:`.runs` runs ``compile golden`` and ``compile diff``
and returns their results, :mod:`.revisions` materialises git revisions, and :mod:`.files` reads
and atomically writes files. ``compiler/cli/review.py`` only parses arguments and renders.
"""
