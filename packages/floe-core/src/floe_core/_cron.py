"""Cron expressions for a source's ``schedule``: the five-field syntax orchestrators accept.

``minute hour day-of-month month day-of-week``; each field is ``*``, a number, a range
``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of those; months and weekdays also take
their English three-letter names (``jan``, ``mon``), weekday 7 is Sunday. The shorthands
``@hourly``, ``@daily``, ``@midnight``, ``@weekly``, ``@monthly``, ``@yearly`` and
``@annually`` are accepted as well. Checked without a dependency so ``floe validate`` needs
no orchestrator installed.
"""

from __future__ import annotations

__all__ = ["cron_problem"]

_SHORTHANDS = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS: list[tuple[str, int, int, dict[str, int]]] = [
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
]


def _value(text: str, low: int, high: int, names: dict[str, int], what: str) -> int:
    number = names.get(text.lower()) if not text.isdigit() else int(text)
    if number is None:
        raise ValueError(f"{what} {text!r} is not a number")
    if not low <= number <= high:
        raise ValueError(f"{what} {number} is outside {low}-{high}")
    return number


def _check_part(part: str, low: int, high: int, names: dict[str, int], what: str) -> None:
    base, slash, step = part.partition("/")
    if slash and (not step.isdigit() or int(step) == 0):
        raise ValueError(f"{what} step {step!r} must be a positive number")
    if base == "*":
        return
    start, dash, end = base.partition("-")
    first = _value(start, low, high, names, what)
    if dash and _value(end, low, high, names, what) < first:
        raise ValueError(f"{what} range {base!r} runs backwards")
    if slash and not dash:
        raise ValueError(f"{what} step needs '*' or a range before '/', not {base!r}")


def cron_problem(expression: str) -> str | None:
    """Say what is wrong with a cron expression.

    Args:
        expression: E.g. ``"0 6 * * *"`` or ``"@daily"``.

    Returns:
        None when valid, else a message naming the field and the fix.
    """
    text = expression.strip()
    if text.lower() in _SHORTHANDS:
        return None
    fields = text.split()
    if len(fields) != len(_FIELDS):
        return (
            f"{expression!r} has {len(fields)} field(s); a cron schedule has 5 "
            "(minute hour day-of-month month day-of-week, e.g. '0 6 * * *') or is one of "
            + ", ".join(sorted(_SHORTHANDS))
        )
    for field, (what, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in field.split(","):
            try:
                _check_part(part, low, high, names, what)
            except ValueError as exc:
                return f"{expression!r}: {exc}"
    return None
