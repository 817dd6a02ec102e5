"""Incremental state that lives with the destination, not in ``~/.dlt``.

dlt keeps a resource's incremental cursor (``last_value``, ``start_value`` and the
``unique_hashes`` it uses to drop rows equal to the last cursor under ``range_start="closed"``)
in the pipeline state, under ``sources.<source_state_key>.resources.<resource>``; floe
persists the whole source entry, so a parent resource's cursor (a file listing's
``modification_date``) is kept too. Iterating a
resource outside ``pipeline.run`` reads that state from an injected
``StateInjectableContext``. :class:`ResourceState` injects a dict seeded with the state committed
with the table's last successful load, and hands the updated resource state back after the
resource is exhausted, for the writer to commit in the same snapshot as the data. The state
therefore advances only when the data commit succeeds, and survives a fresh machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["STATE_FORMAT", "ResourceState", "canonical"]

STATE_FORMAT = "dlt-resource-state/1"
"""The ``format`` value of the state dict floe commits; the dlt state is typed JSON text."""


def _source_state_key(resource: Any) -> str:
    # The key dlt uses for a resource iterated on its own (DltResource.__iter__).
    return str(resource._get_config_section_context().source_state_key)


def canonical(value: Any, key: str | None = None) -> Any:
    """Return dlt state in one canonical form: keys sorted, ``unique_hashes`` sorted.

    dlt builds ``unique_hashes`` (the rows equal to the last cursor value) from a set, so its
    order differs from process to process (string hash randomisation): compared as text, an
    unchanged state looked changed and a re-run with no new rows committed an empty snapshot.

    Args:
        value: A state value (dicts, lists, scalars).
        key: The key ``value`` is stored under.

    Returns:
        A copy in canonical form.
    """
    if isinstance(value, dict):
        return {k: canonical(value[k], str(k)) for k in sorted(value, key=str)}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        if key == "unique_hashes" and all(isinstance(v, str) for v in items):
            return sorted(items)
        return items
    return value


class ResourceState:
    """Seed a dlt resource's state from the destination and read it back after extraction.

    Args:
        resource: The dlt resource (``dlt.extract.resource.DltResource``).
        saved: What :meth:`committed` returned at the last successful load, or None.
    """

    def __init__(self, resource: Any, saved: dict[str, Any] | None) -> None:
        from dlt.common.json import json

        self._resource = resource
        self._key = _source_state_key(resource)
        seeded: dict[str, Any] = {}
        if saved and saved.get("format") == STATE_FORMAT and saved.get("state"):
            seeded = json.typed_loads(saved["state"])
        self._saved = saved if seeded else None
        self._saved_canonical = canonical(seeded)  # before dlt updates ``seeded`` in place
        self._pipeline_state: dict[str, Any] = {"sources": {self._key: seeded}}

    def iterate(self) -> Iterator[Any]:
        """Open the resource's iterator with the seeded state injected.

        Returns:
            The resource's items; the state is updated as they are consumed.
        """
        from dlt.common.configuration.container import Container
        from dlt.common.pipeline import StateInjectableContext

        context: AbstractContextManager[Any] = Container().injectable_context(
            StateInjectableContext(state=self._pipeline_state)  # type: ignore[arg-type]
        )
        with context:
            # dlt binds the state dict when the iterator is opened and re-injects it on next().
            return iter(self._resource)

    @property
    def source_state(self) -> dict[str, Any]:
        """The dlt source state the resource (and its parents, e.g. a file listing) wrote."""
        sources: dict[str, Any] = self._pipeline_state.get("sources", {})
        return dict(sources.get(self._key) or {})

    def committed(self) -> dict[str, Any] | None:
        """Return the state to commit with the data, or None when there is none.

        Returns:
            ``{"format": STATE_FORMAT, "state": <typed JSON>, "cursors": {...}}``, the state
            in :func:`canonical` form; the stored value itself when the state is unchanged.
        """
        from dlt.common.json import json

        state = canonical(self.source_state)
        if not state.get("resources"):
            return None
        if self._saved is not None and state == self._saved_canonical:
            return self._saved  # unchanged: the stored value, byte for byte (no new snapshot)
        return {
            "format": STATE_FORMAT,
            "state": json.typed_dumps(state),
            "cursors": self.cursors(),
        }

    def cursors(self) -> dict[str, str | None]:
        """Return each incremental cursor's last value as text, for results and logs."""
        out: dict[str, str | None] = {}
        for resource in self.source_state.get("resources", {}).values():
            for path, column in resource.get("incremental", {}).items():
                value = column.get("last_value") if isinstance(column, dict) else None
                out[str(path)] = None if value is None else str(value)
        return out
