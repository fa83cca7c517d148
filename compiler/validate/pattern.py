"""Policy patterns in RE2, the engine of the API server's CEL ``matches()``: one pattern means one
thing at compile time and in the cluster, ``$`` is the end of the text (not before a final newline),
and matching takes time linear in the value, whatever the pattern."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=512)
def compiled(pattern: str):
    """The RE2 program of ``pattern``; ValueError (the message a user reads) if RE2 cannot read it."""
    import re2  # imported when a policy has a pattern

    options = re2.Options()
    options.log_errors = False  # the library would print to stderr; the diagnostic says it
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise ValueError(text) from None


def searches(pattern: str, text: str) -> bool | None:
    """Whether ``text`` contains a match of ``pattern``; None when RE2 cannot read the pattern
    (the policy's own diagnostic says so)."""
    try:
        program = compiled(pattern)
    except ValueError:
        return None
    return program.search(text) is not None
