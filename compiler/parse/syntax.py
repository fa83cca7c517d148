"""YAML syntax errors in our words: what is wrong and what to do, at the place to fix it.

PyYAML's (libyaml's) messages name the scanner's state ("found character that cannot start any
token"); a researcher needs "tabs are not allowed for indentation; use spaces". Each explanation
reads the source line around the error; an error none of them recognises keeps PyYAML's words.
"""

from __future__ import annotations

from ..tuples import NamedTuple

_CLOSERS = {"]": "[", "}": "{"}


class Explained(NamedTuple):
    message: str
    line: int  # 0-based, as PyYAML's marks
    column: int


def explain(
    problem: str,
    problem_at: tuple[int, int],
    context: str,
    context_at: tuple[int, int] | None,
    text: str,
) -> Explained | None:
    """Our message and place for PyYAML's ``problem`` (with its ``context``), or None."""
    lines = text.split("\n")
    line, column = problem_at
    source = lines[line] if line < len(lines) else ""
    found = source[column] if column < len(source) else ""
    if "tab" in problem or (problem.startswith("found character") and found == "\t"):
        return Explained("tabs are not allowed for indentation; use spaces", line, column)
    if problem.startswith("found character that cannot start any token"):
        return Explained(
            f'a value cannot start with {found!r}; quote the value ("…")', line, column
        )
    if problem.startswith("mapping values are not allowed"):
        return _colon_in_a_value(lines, line, column)
    if "end of stream" in problem and "quoted scalar" in context and context_at is not None:
        quote = _char_at(lines, context_at)
        return Explained(
            f"the quote {quote} opened here is never closed; end the value with {quote}",
            *context_at,
        )
    for closer, opener in _CLOSERS.items():
        if f"expected ',' or '{closer}'" in problem and context_at is not None:
            return Explained(
                f"the '{opener}' opened here is not closed: close it with '{closer}' "
                "(and separate its items with ',')",
                *context_at,
            )
    if problem.startswith("did not find expected key") and "block mapping" in context:
        return Explained(
            "this line does not line up with the keys of its mapping: indent the keys of one "
            "mapping alike, with spaces (or quote a value that continues here)",
            line,
            column,
        )
    if problem.startswith("did not find expected '-' indicator"):
        return Explained(
            "this line does not line up with the list above it: every item of a list starts "
            "with '- ' at the same indentation",
            line,
            column,
        )
    if problem.startswith("could not find expected ':'"):
        return Explained("a key without ':' (write 'key: value')", *(context_at or problem_at))
    return None


def _colon_in_a_value(lines: list[str], line: int, column: int) -> Explained:
    """``mapping values are not allowed here``: a ': ' inside an unquoted value, a key indented
    deeper than its siblings, or a line above without its ':'."""
    before = lines[line][:column] if line < len(lines) else ""
    if ": " in before.lstrip("- "):
        return Explained(
            "quote a value that contains ': ' (command: \"python run.py --opt a: b\")", line, column
        )
    above = next((text for text in reversed(lines[:line]) if text.strip()), "")
    if ":" not in above.split("#", 1)[0]:
        return Explained(
            "the line above has no ':', so this line continues its value; write 'key: value'",
            line,
            column,
        )
    return Explained(
        "this key is indented deeper than the keys beside it; indent the keys of one mapping "
        "alike, with spaces",
        line,
        column,
    )


def _char_at(lines: list[str], at: tuple[int, int]) -> str:
    line, column = at
    source = lines[line] if line < len(lines) else ""
    return source[column] if column < len(source) else '"'
