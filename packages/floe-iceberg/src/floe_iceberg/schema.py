"""The type rules, the drifting-type rules and the schema contracts between a batch and a table.

Implemented in three modules: type normalisation (:mod:`._types`), types that drift and
variant columns (:mod:`._drift`, value conversions in :mod:`._coerce`), schema contracts
(:mod:`._contract`). This module is their documented face.

Type rule (applied to every incoming batch before it meets the table):

============================================  ===============================================
Arrow type from a source                      Iceberg column
============================================  ===============================================
bool                                          boolean
int8 / int16 / int32, uint8 / uint16          int
int64, uint32                                 long
uint64                                        decimal(20, 0) (widened: every value fits)
float16 / float32                             float
float64                                       double
decimal32/64/128(p, s), decimal256(p <= 38)   decimal(p, s): precision and scale kept
decimal256 with p > 38                        rejected (Iceberg stops at 38 digits)
string / large_string / string_view           string
binary / large_binary / binary_view           binary
fixed_size_binary(n)                          fixed(n)
arrow.uuid extension                          string (canonical 8-4-4-4-12 text)
arrow.json extension                          string (the JSON text)
date32 / date64                               date
time32 / time64                               time (microseconds; nanoseconds truncated)
timestamp without zone (any unit)             timestamp (microseconds; ns truncated)
timestamp with any zone (any unit)            timestamptz, normalised to UTC, microseconds
dictionary<value>                             the value type (decoded)
list / large_list / fixed_size_list<T>        list<T>
struct<...>                                   struct<...> (field by field, same rules)
map<K, V>                                     map<K, V>
null (an all-null column)                     skipped until a batch brings a typed value
duration / interval / union / ...             rejected, naming the column
============================================  ===============================================

Nested data: struct, list and map columns land as nested Iceberg columns (the table above).
A source that wants every engine to read nested data the same way hands it over as JSON text
(a ``string`` column; ``json_extract`` in DuckDB/Trino, ``from_json`` in Spark), as the dlt
plugin does.

Types that drift (:func:`coerce_types`): a batch column whose type differs from the table
column's is coerced to the table's type when that loses nothing (the pairs are listed in
:mod:`._coerce`: int into double, numbers and bools into text, integral doubles and numeric
text into bigint, ISO text into timestamp, ...). Values that do not coerce move to a variant
column ``<column>__v_<kind>`` (``kind`` one of ``bool``, ``bigint``, ``double``, ``decimal``,
``text``, ``binary``, ``timestamp``, ``date``, ``time``, ``json``: ``price__v_double``,
``code__v_text``; the names dlt gives variant columns, so tables read the same whichever tool
loaded them), which is a new column for the contract: ``evolve`` adds it, ``discard_value``
drops it (the value becomes null), ``discard_row`` drops the row, ``freeze`` fails with
SCHEMA_CONTRACT_VIOLATION; a variant column the table already has takes its values under
every contract. A merge-key value that does not coerce fails the load (SCHEMA_CORRUPTION): a
key never moves to a variant column. A new ``string`` column whose field metadata is
:data:`floe_iceberg.DETECTED_TIMESTAMP` (the source found every value to be an ISO-8601
timestamp with a zone) becomes timestamptz; an existing string column stays text.

Contracts compare the columns of a batch with the table's (``SchemaContract``):
``evolve`` adds new columns and applies safe promotions (int -> long, float -> double, decimal
precision widening); ``freeze`` refuses new columns; ``discard_value`` drops them;
``discard_row`` drops rows carrying a value in one. A type change that neither promotes nor
coerces (e.g. a struct against a number) is SCHEMA_CORRUPTION. New fields inside a struct
column evolve the struct, fail ``freeze`` (named ``column.field``) and are dropped by
``discard_value`` and ``discard_row`` (rows are only dropped for new top-level columns).
Columns the batch lacks are filled with nulls. Every column is created optional (nullable), so
later loads may omit it.
"""

from floe_iceberg._contract import (
    ContractPlan,
    conform,
    discard,
    key_columns_missing,
    plan_contract,
)
from floe_iceberg._drift import TableTypes, coerce_types
from floe_iceberg._types import iceberg_schema_of, normalize_batch, target_arrow_schema

__all__ = [
    "ContractPlan",
    "TableTypes",
    "coerce_types",
    "conform",
    "discard",
    "iceberg_schema_of",
    "key_columns_missing",
    "normalize_batch",
    "plan_contract",
    "target_arrow_schema",
]
