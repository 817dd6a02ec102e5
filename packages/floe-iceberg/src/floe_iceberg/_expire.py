"""Snapshot expiry that never loses a load's state.

pyiceberg's ``expire_snapshots`` removes snapshots from the table metadata (it deletes no
file; orphan removal reclaims what they alone referenced). Which ones is decided here:
snapshots older than the retention, except

- the newest ``keep_last`` snapshots of the current snapshot's history;
- branch and tag heads (pyiceberg protects them too);
- the state chain: :func:`floe_iceberg.read_state` walks back from the current snapshot
  through the parents to the newest snapshot carrying each ``floe.state.*`` key (ADR-0022), so
  that snapshot and every snapshot between it and the current one stay. A compaction carries
  every state into its own snapshot, so after one the chain is the current snapshot alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot

from floe_iceberg.state import STATE_PREFIX

__all__ = ["ExpiryPlan", "expire", "plan_expiry"]


@dataclass(frozen=True)
class ExpiryPlan:
    """The snapshots one expiry removes.

    Attributes:
        expire: Their ids, oldest first.
        snapshots_before: Snapshots the table had.
        protected_for_state: Snapshots kept only because a state key needs them.
    """

    expire: tuple[int, ...]
    snapshots_before: int
    protected_for_state: int


def _ancestors(metadata: TableMetadata) -> list[Snapshot]:
    chain: list[Snapshot] = []
    snapshot = metadata.current_snapshot()
    seen: set[int] = set()
    while snapshot is not None and snapshot.snapshot_id not in seen:
        seen.add(snapshot.snapshot_id)
        chain.append(snapshot)
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    return chain


def _state_depth(chain: list[Snapshot]) -> int:
    """Return how many snapshots, from the current one back, the state keys need."""
    keys: set[str] = set()
    depth = 0
    for index, snapshot in enumerate(chain):
        if snapshot.summary is None:
            continue
        found = {k for k in snapshot.summary.additional_properties if k.startswith(STATE_PREFIX)}
        if found - keys:
            depth = index + 1
            keys |= found
    return depth


def plan_expiry(metadata: TableMetadata, *, older_than: dt.datetime, keep_last: int) -> ExpiryPlan:
    """Choose the snapshots to expire.

    Args:
        metadata: The table metadata.
        older_than: Snapshots committed before this instant may go.
        keep_last: The newest snapshots of the current history always stay.

    Returns:
        The plan.
    """
    chain = _ancestors(metadata)
    kept = {s.snapshot_id for s in chain[:keep_last]}
    state_kept = {s.snapshot_id for s in chain[: _state_depth(chain)]} - kept
    kept |= state_kept
    kept |= {ref.snapshot_id for ref in metadata.refs.values()}
    cutoff = int(older_than.timestamp() * 1000)
    old = [s for s in metadata.snapshots if s.timestamp_ms < cutoff]
    expire = tuple(s.snapshot_id for s in sorted(old, key=lambda s: s.timestamp_ms))
    expire = tuple(i for i in expire if i not in kept)
    state_only = sum(1 for s in old if s.snapshot_id in state_kept)
    return ExpiryPlan(expire, len(metadata.snapshots), state_only)


def expire(table: Table, plan: ExpiryPlan) -> None:
    """Remove the planned snapshots from the table (one metadata commit).

    Args:
        table: The table.
        plan: From :func:`plan_expiry`.

    Raises:
        Exception: pyiceberg's commit failure, raw.
    """
    if plan.expire:
        table.maintenance.expire_snapshots().by_ids(list(plan.expire)).commit()
