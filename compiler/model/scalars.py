"""Scalar rules the models and the compiler share, without pydantic: text that YAML may have read
as a number, durations, Kubernetes' integer ranges."""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from typing import Any

# Kubernetes stores counts as int32 and durations as int64; larger values would be rejected on apply.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MAX_DURATION_SECONDS = INT64_MAX  # activeDeadlineSeconds is an int64

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(w|d|h|m|s)")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def number_as_text(value: Any) -> Any:
    """A string field given a YAML number or boolean takes it as written (``1.10`` stays ``"1.10"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return getattr(value, "text", None) or repr(value)
    return value


def duration_seconds(text: str) -> int:
    """``90s``, ``30m``, ``6h``, ``1d``, ``1h30m`` (and a bare number of seconds) to whole seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    # the exact sum of 1.5h and 30m as numerator / denominator (fractions costs a cold start more)
    pos, numerator, denominator = 0, 0, 1
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        whole, _, decimals = match.group(1).partition(".")
        scale = 10 ** len(decimals)
        part = int(whole + decimals) * _UNIT_SECONDS[match.group(2)]
        numerator, denominator = numerator * scale + part * denominator, denominator * scale
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 30m, 6h, 1d or 1h30m")
    seconds, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and seconds % 2):
        seconds += 1  # half to even, as round() does
    return seconds


def check_duration(text: str) -> str:
    """``text`` if it is a duration Kubernetes can hold; ValueError (the message a user reads) if not."""
    seconds = duration_seconds(text)
    if seconds <= 0:
        raise ValueError("a duration must be longer than 0s")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(
            f"the duration is longer than Kubernetes can express ({MAX_DURATION_SECONDS} seconds)"
        )
    return text


def env_kind(value: Any) -> str:
    """Which kind of ``spec.env`` value this is: a mapping names a Secret, anything else is text."""
    return "secretRef" if isinstance(value, dict) else "value"
