"""``floe.yaml``: the sources a data team loads, and where each one lands.

Each source becomes one :class:`~floe_core.ingestion.IngestionConfig`
(:meth:`FloeProject.to_ingestion_configs`): ``type`` is the plugin's ``source_type``, ``config``
is passed through as ``source_config``, ``destination`` gives the table, write disposition and
key, and ``secret_refs`` maps dotted paths inside ``config`` to secrets, resolved only then.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from floe_core._cron import cron_problem
from floe_core._loader import (
    ConfigFileError,
    Problem,
    format_loc,
    interpolate,
    read_yaml,
    validate_file,
)
from floe_core.errors import ErrorCode, PipelineConfigurationError
from floe_core.ingestion import (
    IncrementalConfig,
    IngestionConfig,
    MergeStrategy,
    SchemaContract,
    WriteMode,
    merge_strategy_problem,
)
from floe_core.maintenance import MaintenanceOverride
from floe_core.secret import SecretRef, default_secrets_dir

__all__ = ["DestinationSpec", "FloeProject", "IngestionSection", "PartitionsSpec", "SourceSpec"]

_STRICT = ConfigDict(extra="forbid", frozen=True)
MAX_NAME_BYTES = 255
"""The longest source name and table-name part, in UTF-8 bytes: pyiceberg's SQL catalog keeps
namespace and table names in ``VARCHAR(255)`` columns (REST catalogs are no more generous)."""
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


def _check_length(what: str, value: str, parts: list[str]) -> None:
    """Refuse a name (part) longer than :data:`MAX_NAME_BYTES`, quoting only its start."""
    for part in parts:
        size = len(part.encode("utf-8"))
        if size > MAX_NAME_BYTES:
            shown = value if len(value) <= 40 else f"{value[:40]}..."
            raise ValueError(
                f"{what} {shown!r} is {size:,} bytes long; each name is at most "
                f"{MAX_NAME_BYTES} bytes (UTF-8), the catalog's limit"
            )


def _check_with_ingestion_config(field: str, **values: Any) -> None:
    """Apply IngestionConfig's own rule for ``field`` so both files share one definition."""
    base: dict[str, Any] = {"name": "x", "source_type": "x", "destination_table": "x.y"}
    try:
        IngestionConfig(**{**base, **values})
    except ValidationError as exc:
        for err in exc.errors():
            if err["loc"] == (field,):
                raise ValueError(err["msg"].removeprefix("Value error, ")) from None


class DestinationSpec(BaseModel):
    """Where a source lands."""

    model_config = _STRICT

    table: str = Field(description="'namespace.table', or 'namespace.*' for one per resource.")
    write_disposition: WriteMode = WriteMode.APPEND
    primary_key: tuple[str, ...] = ()
    merge_strategy: MergeStrategy = Field(
        default=MergeStrategy.COPY_ON_WRITE,
        description="How 'merge' replaces existing rows: copy_on_write (rewrite their data "
        "files, the default) or merge_on_read (write position delete files).",
    )
    partition_by: tuple[str, ...] = Field(
        default=(),
        description="Iceberg partition transforms: c, year(c), month(c), day(c), hour(c), "
        "bucket(N, c), truncate(W, c).",
    )

    sort_by: tuple[str, ...] = Field(
        default=(),
        description="The table's sort order: 'column [asc|desc] [nulls first|nulls last]'.",
    )

    @field_validator("sort_by", mode="before")
    @classmethod
    def _check_sort_by(cls, value: Any) -> Any:
        value = (value,) if isinstance(value, str) else value
        _check_with_ingestion_config("sort_by", sort_by=value)
        return value

    @field_validator("partition_by", mode="before")
    @classmethod
    def _check_partition_by(cls, value: Any) -> Any:
        value = (value,) if isinstance(value, str) else value
        _check_with_ingestion_config("partition_by", partition_by=value)
        return value

    @field_validator("table")
    @classmethod
    def _check_table(cls, value: str) -> str:
        _check_length("table name", value, value.split("."))
        _check_with_ingestion_config("destination_table", destination_table=value)
        return value

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_key_is_a_list(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_merge_strategy(self) -> DestinationSpec:
        merge_on_read = self.merge_strategy is MergeStrategy.MERGE_ON_READ
        if merge_on_read and self.write_disposition is not WriteMode.MERGE:
            raise PydanticCustomError(
                "merge_strategy",
                merge_strategy_problem(self.write_disposition),
                {"field": ("merge_strategy",)},
            )
        return self


class PartitionsSpec(BaseModel):
    """``partitions``: the source's loads are time windows of one source column.

    An orchestrator runs one window (or a range of windows) at a time; each run loads the rows
    whose ``column`` lies in [window start, window end) and replaces exactly that slice of the
    table (:class:`~floe_core.ingestion.LoadWindow`). Windows start at ``start`` and follow
    each other by one ``schedule`` (UTC).
    """

    model_config = _STRICT

    schedule: Literal["hourly", "daily", "monthly"] = Field(description="The window length.")
    start: datetime = Field(description="The first window's start, e.g. 2026-01-01 (UTC).")
    column: str = Field(
        min_length=1,
        description="The source column the windows slice on (a timestamp or date; for "
        "filesystem, the file's modification_date).",
    )

    @field_validator("start", mode="before")
    @classmethod
    def _date_is_midnight(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 10:
            return f"{value}T00:00:00"
        if hasattr(value, "isoformat") and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day)  # a YAML date
        return value

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SourceSpec(BaseModel):
    """One entry of ``ingestion.sources``."""

    model_config = _STRICT

    name: str = Field(description="Unique pipeline name; also the OpenLineage job name suffix.")
    type: str = Field(min_length=1, description="The plugin's source_type, e.g. sql_database.")
    config: dict[str, Any] = Field(default_factory=dict)
    destination: DestinationSpec
    incremental: IncrementalConfig | None = None
    schema_contract: SchemaContract = SchemaContract.EVOLVE
    secret_refs: dict[str, SecretRef] = Field(default_factory=dict)
    description: str | None = Field(
        default=None, description="What the source is; shown by orchestrators and catalogs."
    )
    schedule: str | None = Field(
        default=None,
        description="Cron expression an orchestrator runs this source on, e.g. '0 6 * * *'.",
    )
    partitions: PartitionsSpec | None = Field(
        default=None,
        description="Load in time windows of a column (an orchestrator's partitions, "
        "backfills); without it, the incremental cursor applies as usual.",
    )
    pool: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Concurrency pool an orchestrator limits this source's loads by "
        "(default: derived from the source system, e.g. the database host and name).",
    )

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            problem = cron_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    maintenance: MaintenanceOverride | None = Field(
        default=None, description="Overrides of the manifest's maintenance settings."
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        _check_length("source name", value, [value])
        _check_with_ingestion_config("name", name=value)
        return value

    @model_validator(mode="after")
    def _check_semantics(self) -> Self:
        for path in self.secret_refs:
            if not _PATH.match(path):
                raise PydanticCustomError(
                    "secret_path",
                    "'{path}' must be a dotted path into config, e.g. credentials.password",
                    {"path": path, "field": ("secret_refs", path)},
                )
            node: Any = self.config
            for part in path.split(".")[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
                if node is not None and not isinstance(node, dict):
                    raise PydanticCustomError(
                        "secret_path",
                        "'{path}' goes through config field '{part}', which is not a mapping",
                        {"path": path, "part": part, "field": ("secret_refs", path)},
                    )
        if self.partitions is not None and self.destination.write_disposition is WriteMode.MERGE:
            raise PydanticCustomError(
                "partitions_merge",
                "partitions replace one window of the table per run; they cannot be combined "
                "with write_disposition 'merge' (use 'append' or 'replace')",
                {"field": ("partitions",)},
            )
        return self

    def to_ingestion_config(self, secrets: Mapping[str, Any] | None = None) -> IngestionConfig:
        """Return the plugin-facing config for this source.

        Args:
            secrets: Resolved secrets by dotted path (``SecretStr`` values).

        Returns:
            The IngestionConfig.
        """
        return IngestionConfig(
            name=self.name,
            source_type=self.type,
            source_config=self.config,
            destination_table=self.destination.table,
            write_mode=self.destination.write_disposition,
            primary_key=self.destination.primary_key,
            merge_strategy=self.destination.merge_strategy,
            partition_by=self.destination.partition_by,
            sort_by=self.destination.sort_by,
            schema_contract=self.schema_contract,
            incremental=self.incremental,
            secret_refs=dict(self.secret_refs),
            secrets=dict(secrets or {}),
        )


class IngestionSection(BaseModel):
    """``ingestion``: the sources to load."""

    model_config = _STRICT

    sources: list[SourceSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        first: dict[str, int] = {}
        for index, source in enumerate(self.sources):
            if source.name in first:
                raise PydanticCustomError(
                    "duplicate_name",
                    "duplicate source name '{name}': sources[{first}] already uses it; "
                    "source names must be unique",
                    {
                        "name": source.name,
                        "first": first[source.name],
                        "field": ("sources", index, "name"),
                    },
                )
            first[source.name] = index
        return self


class FloeProject(BaseModel):
    """A ``floe.yaml``. Build it with :meth:`load`."""

    model_config = _STRICT

    ingestion: IngestionSection
    _file: Path | None = PrivateAttr(default=None)
    _index: dict[str, int] | None = PrivateAttr(default=None)

    @property
    def file(self) -> Path | None:
        """The file this project was loaded from, if any."""
        return self._file

    @property
    def directory(self) -> Path:
        """The folder of the floe.yaml (``${FLOE_PROJECT_DIR}``); the working dir when none."""
        return self._file.parent.absolute() if self._file is not None else Path.cwd()

    @classmethod
    def load(cls, path: Path | str, *, environ: Mapping[str, str] | None = None) -> FloeProject:
        """Read, interpolate and validate a floe.yaml.

        Args:
            path: The file.
            environ: Environment for ``${VAR}``; defaults to ``os.environ``.

        Returns:
            The project (secrets not yet resolved).

        Raises:
            ConfigFileError: Anything wrong with the file, naming the field path.
        """
        file = Path(path)
        env = os.environ if environ is None else environ
        raw = read_yaml(file, what="floe.yaml")
        data = interpolate(
            raw,
            file=file,
            environ=env,
            builtins={"FLOE_PROJECT_DIR": str(file.parent.absolute())},
        )
        project = validate_file(cls, data, file=file)
        project._file = file
        return project

    @property
    def sources(self) -> list[SourceSpec]:
        """The sources, in file order."""
        return self.ingestion.sources

    def index_of(self, name: str) -> int:
        """Return the position of source ``name`` in ``ingestion.sources`` (constant time).

        Args:
            name: A source name of this project.

        Returns:
            Its index in the file.

        Raises:
            KeyError: No source has that name.
        """
        if self._index is None:
            self._index = {s.name: i for i, s in enumerate(self.sources)}
        return self._index[name]

    def select(self, only: Collection[str] | None = None) -> list[tuple[int, SourceSpec]]:
        """Return the sources named in ``only`` (all when None), with their index in the file.

        Args:
            only: Source names.

        Returns:
            ``(index, source)`` pairs in file order.

        Raises:
            PipelineConfigurationError: A name in ``only`` is not a source of this project.
        """
        names = [s.name for s in self.sources]
        known = set(names)
        for name in only or ():
            if name not in known:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else "."
                raise PipelineConfigurationError(
                    f"no source named {name!r} in {self.file or 'floe.yaml'}{hint} "
                    f"Sources: {', '.join(names)}",
                    code=ErrorCode.INVALID_CONFIG,
                )
        return [(i, s) for i, s in enumerate(self.sources) if only is None or s.name in only]

    def to_ingestion_configs(
        self,
        *,
        secrets_dir: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
        only: Collection[str] | None = None,
    ) -> list[IngestionConfig]:
        """Return one IngestionConfig per source with its secret refs resolved.

        Args:
            secrets_dir: Folder of ``file:`` secrets; defaults to ``FLOE_SECRETS_DIR``.
            environ: Environment for ``env:`` secrets; defaults to ``os.environ``.
            only: Source names to include (all when None).

        Returns:
            The configs, in file order.

        Raises:
            ConfigFileError: SECRET_NOT_FOUND naming every missing secret's field path.
            PipelineConfigurationError: A name in ``only`` is not a source.
        """
        directory = Path(secrets_dir) if secrets_dir is not None else default_secrets_dir()
        configs: list[IngestionConfig] = []
        problems: list[Problem] = []
        for index, source in self.select(only):
            secrets: dict[str, Any] = {}
            for path, ref in source.secret_refs.items():
                try:
                    secrets[path] = ref.resolve(secrets_dir=directory, environ=environ)
                except PipelineConfigurationError as exc:
                    loc = ("ingestion", "sources", index, "secret_refs", path)
                    problems.append(Problem(format_loc(loc), exc.message))
            configs.append(source.to_ingestion_config(secrets))
        if problems:
            raise ConfigFileError.of(
                self.file or "floe.yaml", problems, code=ErrorCode.SECRET_NOT_FOUND
            )
        return configs
