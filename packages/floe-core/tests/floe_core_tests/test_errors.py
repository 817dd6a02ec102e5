import pytest

from floe_core.errors import (
    DestinationWriteError,
    ErrorCategory,
    ErrorCode,
    ErrorDetail,
    IngestionError,
    PartialLoadError,
    PipelineConfigurationError,
    PluginError,
    SchemaContractViolation,
    SourceConnectionError,
    SyncError,
    default_category,
)


def test_every_code_has_a_default_category() -> None:
    for code in ErrorCode:
        assert isinstance(default_category(code), ErrorCategory)


def test_every_code_is_documented_with_its_default_category() -> None:
    import floe_core.errors as module

    doc = module.__doc__ or ""
    for code in ErrorCode:
        line = next((ln for ln in doc.splitlines() if ln.split()[:1] == [code.value]), None)
        assert line is not None, f"{code} is not documented in the module docstring"
        assert line.split()[1] == default_category(code).value


@pytest.mark.parametrize(
    ("cls", "code", "category", "retryable"),
    [
        (PipelineConfigurationError, ErrorCode.INVALID_CONFIG, ErrorCategory.CONFIGURATION, False),
        (PluginError, ErrorCode.PLUGIN_NOT_FOUND, ErrorCategory.CONFIGURATION, False),
        (SourceConnectionError, ErrorCode.SOURCE_UNAVAILABLE, ErrorCategory.TRANSIENT, True),
        (DestinationWriteError, ErrorCode.DESTINATION_WRITE_FAILED, ErrorCategory.PERMANENT, False),
        (
            SchemaContractViolation,
            ErrorCode.SCHEMA_CONTRACT_VIOLATION,
            ErrorCategory.PERMANENT,
            False,
        ),
        (PartialLoadError, ErrorCode.PARTIAL_LOAD, ErrorCategory.PARTIAL, False),
        (SyncError, ErrorCode.SYNC_FAILED, ErrorCategory.TRANSIENT, True),
    ],
)
def test_subclass_defaults(
    cls: type[IngestionError], code: ErrorCode, category: ErrorCategory, retryable: bool
) -> None:
    error = cls("boom")
    assert isinstance(error, IngestionError)
    assert (error.code, error.category, error.retryable) == (code, category, retryable)


def test_code_overrides_category_and_retryable_follows() -> None:
    error = SourceConnectionError("bad password", code=ErrorCode.AUTH_FAILED)
    assert error.category is ErrorCategory.PERMANENT
    assert error.retryable is False


def test_explicit_category_wins_over_code_default() -> None:
    error = SyncError("failed twice", category=ErrorCategory.PERMANENT)
    assert error.code is ErrorCode.SYNC_FAILED
    assert error.category is ErrorCategory.PERMANENT
    assert not error.retryable


def test_configuration_error_is_never_retryable_whatever_the_code() -> None:
    error = PipelineConfigurationError("no such table", code=ErrorCode.SOURCE_NOT_FOUND)
    assert error.category is ErrorCategory.CONFIGURATION
    assert error.retryable is False


def test_detail_round_trip_keeps_every_field() -> None:
    error = IngestionError(
        "slow down",
        code=ErrorCode.RATE_LIMITED,
        source="orders",
        retry_after_seconds=30.0,
        failed_records=3,
        details={"status_code": 429},
    )
    detail = error.to_detail()
    assert detail == ErrorDetail(
        code=ErrorCode.RATE_LIMITED,
        category=ErrorCategory.TRANSIENT,
        message="slow down",
        source="orders",
        retryable=True,
        retry_after_seconds=30.0,
        failed_records=3,
        details={"status_code": 429},
        error_type="IngestionError",
    )
    rebuilt = IngestionError.from_detail(detail)
    assert rebuilt.to_detail() == detail
    assert ErrorDetail.model_validate_json(detail.model_dump_json()) == detail


def test_str_shows_category_and_code() -> None:
    error = SchemaContractViolation("new column 'x' on a frozen table")
    assert str(error) == ("[PERMANENT/SCHEMA_CONTRACT_VIOLATION] new column 'x' on a frozen table")
    assert "SchemaContractViolation(code=SCHEMA_CONTRACT_VIOLATION" in repr(error)


def test_error_type_names_the_class_raised_and_survives_a_round_trip() -> None:
    from floe_core import SourceConnectionError

    detail = SourceConnectionError("refused").to_detail()
    assert detail.error_type == "SourceConnectionError"
    rebuilt = IngestionError.from_detail(detail)
    assert type(rebuilt) is IngestionError and rebuilt.error_type == "SourceConnectionError"
    assert rebuilt.to_detail() == detail
    old_json = detail.model_dump(exclude={"error_type"})
    assert IngestionError.from_detail(ErrorDetail(**old_json)).error_type == "IngestionError"


def test_every_code_has_one_class_and_each_class_default_code_is_its_own() -> None:
    from floe_core.errors import error_class

    for code in ErrorCode:
        cls = error_class(code)
        assert issubclass(cls, IngestionError)
        error = cls("x", code=code) if cls is not IngestionError else IngestionError("x", code=code)
        assert error.code is code and type(error) is cls
    for cls in (
        PipelineConfigurationError,
        PluginError,
        SourceConnectionError,
        DestinationWriteError,
        SchemaContractViolation,
        PartialLoadError,
        SyncError,
        IngestionError,
    ):
        assert error_class(cls.default_code) is cls, cls


@pytest.mark.parametrize(
    ("cls", "code", "owner"),
    [
        (SchemaContractViolation, ErrorCode.SCHEMA_CORRUPTION, "DestinationWriteError"),
        (DestinationWriteError, ErrorCode.AUTH_FAILED, "SourceConnectionError"),
        (PluginError, ErrorCode.INVALID_CONFIG, "PipelineConfigurationError"),
        (PipelineConfigurationError, ErrorCode.PLUGIN_NOT_FOUND, "PluginError"),
        (SyncError, ErrorCode.PARTIAL_SYNC, "PartialLoadError"),
        (SourceConnectionError, ErrorCode.INTERNAL_ERROR, "IngestionError"),
    ],
)
def test_a_code_of_another_class_is_a_type_error(
    cls: type[IngestionError], code: ErrorCode, owner: str
) -> None:
    with pytest.raises(TypeError, match=rf"{cls.__name__} cannot carry code {code}: .* {owner}"):
        cls("x", code=code)


def test_a_plugins_own_subclass_inherits_its_bases_codes() -> None:
    class ApiAuthError(SourceConnectionError):
        pass

    assert ApiAuthError("x", code=ErrorCode.AUTH_FAILED).code is ErrorCode.AUTH_FAILED
    with pytest.raises(TypeError):
        ApiAuthError("x", code=ErrorCode.SYNC_FAILED)
    # the base class still rebuilds any serialised error
    assert IngestionError("x", code=ErrorCode.SYNC_FAILED).code is ErrorCode.SYNC_FAILED
