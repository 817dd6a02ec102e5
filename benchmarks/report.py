"""The comparison table and the targets of issue 5."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

GIB = 1024**3


@dataclass
class Row:
    """One workload x source x path measurement.

    Attributes:
        workload: ``bulk``, ``tpch``, ``merge`` or ``incremental``.
        source: ``sqlite`` or ``postgres``.
        path: The path name.
        rows: Rows the timed step processes (the rows/s numerator).
        label: The workload as shown (``bulk 1M``).
        status: ``ok``, ``WRONG`` (loaded the wrong rows) or ``FAILED``.
        seconds: Wall seconds of the timed load.
        maxrss_kib: Peak RSS of the timed step's process.
        check: What the read-back found, in words.
        error: The failure, if any.
        extra: Anything else worth keeping in the JSON.
    """

    workload: str
    source: str
    path: str
    rows: int
    label: str
    status: str = "ok"
    seconds: float | None = None
    maxrss_kib: int | None = None
    check: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the load succeeded and the table holds the right rows."""
        return self.status == "ok" and self.seconds is not None

    @property
    def rows_per_second(self) -> float | None:
        """Rows processed per wall second, for correct loads only."""
        if not self.ok or not self.seconds:
            return None
        return self.rows / self.seconds


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f} MiB"


def _group(rows: Iterable[Row]) -> dict[tuple[str, str], list[Row]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.label, row.source), []).append(row)
    return groups


def render_table(rows: list[Row]) -> str:
    """Render the comparison table.

    ``time/floe`` is the path's wall time divided by floe's (2.0x = twice as slow as floe). A
    path that failed or loaded the wrong rows gets no rows/s and no ratio, so it never wins;
    ``*`` marks the fastest correct path of each group.
    """
    header = (
        "workload",
        "source",
        "path",
        "rows",
        "wall s",
        "rows/s",
        "peak RSS",
        "time/floe",
        "check",
    )
    lines: list[tuple[str, ...]] = []
    for (_, _), group in _group(rows).items():
        floe = next((r for r in group if r.path in ("floe", "floe-ingest") and r.ok), None)
        correct = [r for r in group if r.ok]
        best = min(correct, key=lambda r: r.seconds or 0.0) if correct else None
        for r in group:
            rps = r.rows_per_second
            ratio = (
                f"{(r.seconds or 0.0) / (floe.seconds or 1e-9):.2f}x"
                if r.ok and floe is not None
                else "-"
            )
            check = r.check if r.status == "ok" else f"{r.status}: {r.error or r.check}"
            lines.append(
                (
                    r.label,
                    r.source,
                    ("*" if r is best and len(correct) > 1 else " ") + r.path,
                    f"{r.rows:,}",
                    "-" if r.seconds is None else f"{r.seconds:.2f}",
                    "-" if rps is None else f"{rps:,.0f}",
                    _mib(r.maxrss_kib),
                    ratio,
                    check[:90],
                )
            )
    if not lines:
        return "(nothing ran)"
    right = {3, 4, 5, 6, 7}
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [fmt(header), fmt(tuple("-" * w for w in widths))]
    previous = None
    for line in lines:
        if previous is not None and line[:2] != previous:
            out.append("")
        out.append(fmt(line))
        previous = line[:2]
    return "\n".join(out)


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def render_targets(rows: list[Row], big_rows: int | None) -> str:
    """Check the issue's targets against the measured rows, one line per target and group."""
    out: list[str] = []
    for (label, source), group in _group(rows).items():
        by_path = {r.path: r for r in group}
        floe = by_path.get("floe")
        if floe is None:
            continue
        workload = group[0].workload

        def rate(path: str, by_path: dict[str, Row] = by_path) -> float | None:
            row = by_path.get(path)
            return row.rows_per_second if row is not None else None

        where = f"{label} {source}"
        if not floe.ok:
            out.append(f"  {where}: floe {floe.status}: every target MISS")
            continue
        floe_rps = floe.rows_per_second or 0.0
        if workload in ("bulk", "tpch"):
            for path, goal in (("floor", 0.8), ("dlt-connectorx", 2.5)):
                other = rate(path)
                if other is None:
                    out.append(f"  {where}: floe ≥ {goal}x {path} rows/s: n/a ({path} not run/ok)")
                    continue
                got = floe_rps / other
                context = ""
                floor_rps = rate("floor")
                if path == "dlt-connectorx" and floor_rps is not None:
                    context = f"; the floor itself is {floor_rps / other:.2f}x dlt-connectorx"
                out.append(
                    f"  {where}: floe ≥ {goal}x {path} rows/s: {got:.3f}x "
                    f"({floe_rps:,.0f} vs {other:,.0f}{context}) {_verdict(got >= goal)}"
                )
        if workload == "merge":
            floor = by_path.get("floor")
            if floor is None or not floor.ok or not floor.seconds:
                out.append(f"  {where}: floe within 1.2x of the floor: n/a (floor not run/ok)")
            else:
                got = (floe.seconds or 0.0) / floor.seconds
                out.append(
                    f"  {where}: floe within 1.2x of the floor's time: {got:.3f}x "
                    f"({floe.seconds:.2f} s vs {floor.seconds:.2f} s) {_verdict(got <= 1.2)}"
                )
        if workload == "bulk" and big_rows is not None and floe.rows == big_rows:
            rss = (floe.maxrss_kib or 0) * 1024
            out.append(
                f"  {where}: floe peak RSS < 1.5 GiB at {big_rows:,} rows: "
                f"{rss / GIB:.2f} GiB {_verdict(rss < 1.5 * GIB)}"
            )
    return "\n".join(out)
