"""A load in parts run by separate processes: the plan, the outcomes and the plugin capability.

A plugin that can split a source's load into parts, each run in another process or on another
machine and all committed together, implements the optional methods of
:class:`DistributedLoading` (mixed into :class:`~floe_core.plugin.IngestionPlugin`; by default
no source type supports them)::

    plan = plugin.plan_parts(pipeline)                       # one process: reads the tables
    outcome = plugin.run_part(pipeline, plan, plan.parts[i])  # any process, once per part
    result = plugin.commit_parts(pipeline, plan, outcomes)   # one process: one commit a table
    plugin.abandon_parts(pipeline, plan, outcomes)           # instead: remove the parts' files

:class:`PartsPlan` and :class:`PartOutcome` are small JSON documents (``to_json`` /
``from_json``): what passes between the processes is the engine's plan of each table, each
part's range and the stored state, never a row and never a secret: every process re-resolves
the source's secrets from its own manifest and floe.yaml, and builds its own pipeline.
:class:`~floe_core.DistributedRun` wraps the four calls with the runner's plugin lifecycle,
telemetry and lineage, for an orchestrator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from floe_core.errors import ErrorDetail

if TYPE_CHECKING:
    from floe_core.ingestion import IngestionConfig, IngestionResult
    from floe_core.plugin import IngestionPipeline

__all__ = ["DistributedLoading", "PartOutcome", "PartSpec", "PartsPlan", "TablePlan"]


class PartSpec(BaseModel):
    """One part of a distributed load: what one process reads and writes.

    Attributes:
        index: The part's position in :attr:`PartsPlan.parts` (unique in the load).
        table: The destination table the part writes to.
        part: The part's number within that table's load (unique per table).
        payload: What the plugin needs to read this part (e.g. a range of a column), JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    table: str
    part: int = Field(ge=0)
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        """Return the part as JSON text."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> PartSpec:
        """Read a part written by :meth:`to_json`."""
        return cls.model_validate_json(text)


class TablePlan(BaseModel):
    """One table of a distributed load.

    Attributes:
        table: ``namespace.table``.
        load_plan: The engine's plan of the table's load (``floe_iceberg.LoadPlan`` JSON):
            the version it starts from, its schema, write mode and key.
        state: The load state stored with the table when the load was planned (the parts
            start from it: an incremental cursor), or None.
        payload: What the plugin needs for every part of the table (e.g. the resource name).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str
    load_plan: str
    state: dict[str, Any] | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class PartsPlan(BaseModel):
    """A source's load split into parts, planned once, run anywhere, committed once per table.

    Attributes:
        source: The source (pipeline) name.
        plugin: The plugin that planned it (only it can run the parts).
        tables: One entry per destination table, in load order.
        parts: Every part of every table.
        lineage_run_id: The lineage run the plan's START was emitted under, for the commit's
            COMPLETE or FAIL.
        details: Facts about the plan for the result (e.g. the split column), JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    plugin: str
    tables: list[TablePlan]
    parts: list[PartSpec]
    lineage_run_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    def table(self, name: str) -> TablePlan:
        """Return the plan of table ``name``.

        Raises:
            KeyError: The plan has no such table.
        """
        for table in self.tables:
            if table.table == name:
                return table
        raise KeyError(name)

    def parts_of(self, table: str) -> list[PartSpec]:
        """Return the parts of one table, in part order."""
        return sorted((p for p in self.parts if p.table == table), key=lambda p: p.part)

    def to_json(self) -> str:
        """Return the plan as JSON text."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> PartsPlan:
        """Read a plan written by :meth:`to_json`."""
        return cls.model_validate_json(text)


class PartOutcome(BaseModel):
    """What one part did: the engine's description of its files, or its error.

    Attributes:
        index: The part's :attr:`PartSpec.index`.
        table: Its table.
        part: Its part number within the table's load.
        file_set: The files it wrote (``floe_iceberg.FileSet`` JSON); None after a failure.
        state: The load state after reading the part (its cursor), or None.
        rows: Rows it wrote.
        error: Its failure (None: it succeeded); files it wrote were removed or listed.
        pid: The process that ran it.
        maxrss_kib: That process's peak resident memory (KiB).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    table: str
    part: int = Field(ge=0)
    file_set: str | None = None
    state: dict[str, Any] | None = None
    rows: int = 0
    error: ErrorDetail | None = None
    pid: int = 0
    maxrss_kib: int = 0

    @property
    def ok(self) -> bool:
        """Whether the part succeeded."""
        return self.error is None and self.file_set is not None

    def to_json(self) -> str:
        """Return the outcome as JSON text."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> PartOutcome:
        """Read an outcome written by :meth:`to_json`."""
        return cls.model_validate_json(text)


class DistributedLoading:
    """The optional distributed-load capability of an ingestion plugin (not supported here).

    A plugin that supports it overrides all five methods; the default
    :meth:`supports_parts` says no, :meth:`plan_parts` returns None and the others raise
    :class:`NotImplementedError` naming the class.
    """

    def supports_parts(self, config: IngestionConfig) -> bool:
        """Say, without connecting, whether a source's loads can be planned in parts.

        An orchestrator decides the shape of its job with it (a fan-out of parts, then one
        commit) before any load runs; the secrets of ``config`` may be unresolved.

        Args:
            config: The source.

        Returns:
            False by default.
        """
        return False

    def plan_parts(
        self, pipeline: IngestionPipeline, *, workers: int | None = None
    ) -> PartsPlan | None:
        """Plan a load in parts: read each table's version and state, split the source.

        Writes nothing to any table.

        Args:
            pipeline: What ``create_pipeline`` returned.
            workers: The parallelism the parts are planned for (None: the plugin's setting).

        Returns:
            The plan, or None when this pipeline is not loaded in parts (the default).

        Raises:
            IngestionError: The source or the catalog failed, categorised as a load's would.
        """
        return None

    def run_part(self, pipeline: IngestionPipeline, plan: PartsPlan, part: PartSpec) -> PartOutcome:
        """Read one part and write its files against its table's plan; commit nothing.

        Args:
            pipeline: The same source's pipeline, built in this process.
            plan: The load's plan.
            part: The part to run (one of ``plan.parts``).

        Returns:
            The part's files, or its categorised error (this method does not raise for a
            failed part; its files are removed or listed for ``floe maintain``).

        Raises:
            NotImplementedError: The plugin does not load in parts.
        """
        raise NotImplementedError(f"{type(self).__name__} does not run load parts")

    def commit_parts(
        self, pipeline: IngestionPipeline, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> IngestionResult:
        """Commit every part's files of each table in one snapshot, with the merged state.

        A table whose parts did not all succeed is not committed: the load fails and that
        table's files are abandoned.

        Args:
            pipeline: The same source's pipeline, built in this process.
            plan: The load's plan.
            outcomes: Every part's outcome.

        Returns:
            The load's result, as ``run`` reports it (never raises for a failed commit).

        Raises:
            NotImplementedError: The plugin does not load in parts.
        """
        raise NotImplementedError(f"{type(self).__name__} does not commit load parts")

    def abandon_parts(
        self, pipeline: IngestionPipeline, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> list[str]:
        """Remove the files of a load that will not be committed (best effort).

        Args:
            pipeline: The same source's pipeline, built in this process.
            plan: The load's plan.
            outcomes: The outcomes known (parts that never reported are found in their
                abandoned-files records).

        Returns:
            The paths listed (deleted unless storage refused; the records stay for
            ``floe maintain``).

        Raises:
            NotImplementedError: The plugin does not load in parts.
        """
        raise NotImplementedError(f"{type(self).__name__} does not abandon load parts")
