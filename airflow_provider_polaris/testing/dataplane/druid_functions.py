"""Druid SQL functions rewritten for DuckDB beyond the basics of :mod:`druid_sql`: sketches,
``JSON_VALUE ... RETURNING`` and the session time zone (``context.sqlTimeZone``). What they
answer is documented in ``docs/emulator-data.md``.

**Sketches are exact**: a sketch is the sorted list of its values (distinct ones for HLL and
theta), wrapped in a one-field STRUCT whose field name tells the engine the sketch kind.

**Time zone**: as in Druid SQL (Calcite's model), a query computes on local timestamps: each
table's ``__time`` is read as its wall-clock time in the zone, so FLOOR/EXTRACT/literals work
unchanged, and TIMESTAMP results print as that zone's instants with their offset.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from airflow_provider_polaris.testing.dataplane.errors import SqlError, UnsupportedError

Node = Any
HLL, THETA, QUANTILES, OTHER = (
    "druid_hll_sketch",
    "druid_theta_sketch",
    "druid_quantiles_sketch",
    "druid_other",
)
# The STRUCT field naming a sketch kind → Druid's type in sqlTypesHeader.
SKETCH_TYPES = {
    HLL: "COMPLEX<HLLSketch>",
    THETA: "COMPLEX<thetaSketch>",
    QUANTILES: "COMPLEX<quantilesDoublesSketch>",
}
_NOT_MERGEABLE = "Building a sketch from sketches (merging) is not supported by the emulator"
_DISTINCT = "coalesce(list_sort(list_distinct(l)), [])"  # list_distinct drops NULLs
_TIME = "typeof(x) LIKE 'TIMESTAMP%' OR typeof(x) = 'DATE'"
# A number or numeric text as a long the way Java's longValue() does it: truncated (DuckDB
# rounds), exact past 2^53; NULL for anything else.
LONG_OF = "TRY_CAST(trunc(TRY_CAST({} AS DECIMAL(38, 10))) AS BIGINT)"
# DuckDB macros the rewrites call, created on the store's connection when it opens. The sketch
# macros are named after the Druid function they implement.
MACROS = (
    # Druid's CAST to a long: a time is its epoch milliseconds, a number or numeric text is
    # truncated toward zero as Java's (long) does (DuckDB rounds), anything else is NULL.
    f"CREATE OR REPLACE TEMP MACRO druid_long(x) AS CASE WHEN {_TIME} "
    f"THEN epoch_ms(TRY_CAST(x AS TIMESTAMP)) ELSE {LONG_OF.format('x')} END",
    f"CREATE OR REPLACE TEMP MACRO druid_double(x) AS CASE WHEN {_TIME} "
    "THEN CAST(epoch_ms(TRY_CAST(x AS TIMESTAMP)) AS DOUBLE) ELSE TRY_CAST(x AS DOUBLE) END",
    "CREATE OR REPLACE TEMP MACRO ds_sorted_values(l) AS "
    "list_sort(list_filter(l, lambda v: v IS NOT NULL))",
    f"CREATE OR REPLACE TEMP MACRO ds_hll(l) AS {{'{HLL}': {_DISTINCT}}}",
    f"CREATE OR REPLACE TEMP MACRO ds_theta(l) AS {{'{THETA}': {_DISTINCT}}}",
    "CREATE OR REPLACE TEMP MACRO ds_quantiles_sketch(l) AS "
    f"{{'{QUANTILES}': coalesce(ds_sorted_values(l), [])}}",
    # INCLUSIVE getQuantile: the smallest i (1-based) with i / n >= rank, compared as doubles.
    "CREATE OR REPLACE TEMP MACRO ds_get_quantile(l, r) AS CASE "
    "WHEN r < 0 OR r > 1 THEN error('A quantile fraction must be between 0 and 1') "
    "WHEN coalesce(len(l), 0) = 0 THEN NULL "
    "ELSE l[greatest(1, CAST(ceil(r * len(l)) AS BIGINT) - CASE WHEN "
    "(ceil(r * len(l)) - 1) / len(l) >= r THEN 1 ELSE 0 END)] END",
    f"CREATE OR REPLACE TEMP MACRO ds_get_quantiles(l, fs) AS "
    f"{{'{OTHER}': list_transform(fs, lambda f: ds_get_quantile(l, f))}}",
    # TIME_FORMAT in a zone: the offset of m minutes as Joda's Z (+0200, sep '') or ISO's
    # (+02:00, sep ':'; Z when zero), and that of zone z at the wall-clock time ts.
    "CREATE OR REPLACE TEMP MACRO druid_offset_text(m, sep) AS CASE WHEN sep = ':' AND m = 0 "
    "THEN 'Z' ELSE CASE WHEN m < 0 THEN '-' ELSE '+' END || lpad(CAST(abs(m) // 60 AS VARCHAR), "
    "2, '0') || sep || lpad(CAST(abs(m) % 60 AS VARCHAR), 2, '0') END",
    "CREATE OR REPLACE TEMP MACRO druid_offset(ts, z, sep) AS druid_offset_text("
    "CAST(round((epoch(ts) - epoch(timezone(z, ts))) / 60) AS BIGINT), sep)",
)


_SKETCH_PREFIX = "STRUCT(druid_"  # the DuckDB type of every value above: a one-field STRUCT


def sketch_field(duck_type: str) -> str | None:
    """The sketch kind (the STRUCT's one field, e.g. ``druid_hll_sketch``) of a DuckDB type;
    None when the type isn't one of the emulator's sketches."""
    if not duck_type.startswith(_SKETCH_PREFIX):
        return None
    return duck_type[len("STRUCT(") :].split(" ")[0]


def call(name: str, *args: Node) -> Node:
    """A call of the DuckDB function ``name``."""
    return exp.Anonymous(this=name, expressions=list(args))


def _field(sketch: Node, kind: str) -> Node:
    return call("struct_extract", sketch, exp.Literal.string(kind))


def plain(arg: Node) -> Node:
    """``arg``, refused at run time when it is a sketch (Druid would merge sketches; the
    emulator doesn't). DuckDB folds the type test away, so it costs nothing per row."""
    is_sketch = call("starts_with", call("typeof", arg.copy()), exp.Literal.string(_SKETCH_PREFIX))
    refuse = call("error", exp.Literal.string(_NOT_MERGEABLE))
    return exp.Case(ifs=[exp.If(this=is_sketch, true=refuse)], default=arg)


def _values(arg: Node, *, doubles: bool = False) -> Node:
    value = plain(arg)
    return call("list", exp.cast(value, "DOUBLE") if doubles else value)


def _estimate(args: list[Node], kind: str) -> Node:
    count = exp.cast(
        call("coalesce", call("len", _field(args[0], kind)), exp.Literal.number(0)), "DOUBLE"
    )
    if len(args) > 1 and not (isinstance(args[1], exp.Boolean) and not args[1].this):
        return exp.If(this=args[1], true=call("round", count), false=count.copy())
    return count


def _fraction(node: Node, name: str) -> Node:
    number = isinstance(node, exp.Literal) and not node.is_string
    if number or (isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)):
        return exp.cast(node, "DOUBLE")
    raise SqlError(f"Function '{name}' needs literal numbers for its fractions")


def _quantiles(args: list[Node]) -> Node:
    if len(args) < 2:
        raise SqlError("Function 'DS_GET_QUANTILES' needs a sketch and at least one fraction")
    fractions = [_fraction(a, "DS_GET_QUANTILES") for a in args[1:]]
    return call("ds_get_quantiles", _field(args[0], QUANTILES), exp.Array(expressions=fractions))


SKETCHES: dict[str, Callable[[list[Node]], Node]] = {
    "DS_HLL": lambda a: call("ds_hll", _values(a[0])),
    "DS_THETA": lambda a: call("ds_theta", _values(a[0])),
    "DS_QUANTILES_SKETCH": lambda a: call("ds_quantiles_sketch", _values(a[0], doubles=True)),
    "HLL_SKETCH_ESTIMATE": lambda a: _estimate(a, HLL),
    "THETA_SKETCH_ESTIMATE": lambda a: _estimate(a, THETA),
    "DS_GET_QUANTILE": lambda a: call(
        "ds_get_quantile", _field(a[0], QUANTILES), _fraction(a[1], "DS_GET_QUANTILE")
    ),
    "DS_GET_QUANTILES": _quantiles,
    "APPROX_QUANTILE_DS": lambda a: call(
        "ds_get_quantile",
        call("ds_sorted_values", _values(a[0], doubles=True)),
        _fraction(a[1], "APPROX_QUANTILE_DS"),
    ),
}

# Druid aggregates that merge a stored sketch column → the sketch kinds they read
# (COUNT(DISTINCT x) is APPROX_COUNT_DISTINCT in Druid, by useApproximateCountDistinct).
_MERGES: dict[str, tuple[str, ...]] = {
    "DS_HLL": (HLL,),
    "DS_THETA": (THETA,),
    "DS_QUANTILES_SKETCH": (QUANTILES,),
    "APPROX_COUNT_DISTINCT_DS_HLL": (HLL,),
    "APPROX_COUNT_DISTINCT_DS_THETA": (THETA,),
    "APPROX_COUNT_DISTINCT": (HLL, THETA),
    "APPROX_QUANTILE_DS": (QUANTILES,),
}


def merged(name: str, args: list[Node], sketches: Mapping[str, str]) -> Node | None:
    """Druid's sketch aggregate ``name`` over a stored sketch column (``sketches``: column →
    kind) merges the rows' sketches: here the union of their values. None when the first
    argument isn't such a column of the kind ``name`` reads; :func:`plain` then refuses a
    sketch at run time."""
    column = args[0] if args else None
    kind = sketches.get(column.name) if isinstance(column, exp.Column) else None
    if kind is None or kind not in _MERGES.get(name, ()):
        return None
    members = call("flatten", call("list", _field(column, kind)))
    if name.startswith("APPROX_COUNT_DISTINCT"):
        return call("coalesce", call("len", call("list_distinct", members)), exp.Literal.number(0))
    if name == "APPROX_QUANTILE_DS":
        return call("ds_get_quantile", call("ds_sorted_values", members), _fraction(args[1], name))
    return call(name.lower(), members)


_JSON_TYPES = {"BIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT", "REAL"}
_JSON_TYPES |= {"VARCHAR", "CHAR", "TEXT", "DECIMAL", "BOOLEAN"}


def json_value(node: Node) -> Node:
    """``JSON_VALUE(x, path [RETURNING type])``: the value at ``path`` as text, cast to the
    RETURNING type (VARCHAR without one, Druid's fallback); NULL when it doesn't convert."""
    path = node.args.get("path")
    text = path.sql(dialect="duckdb") if path is not None else "'$'"
    literal = exp.Literal.string(text.strip("'")) if text.startswith("'") else path
    # Druid's JSON_VALUE gives only primitives (and arrays of them): an object is NULL.
    is_object = exp.EQ(
        this=call("json_type", node.this.copy(), literal.copy()),
        expression=exp.Literal.string("OBJECT"),
    )
    value = exp.If(
        this=is_object, true=exp.null(), false=call("json_extract_string", node.this, literal)
    )
    returning = node.args.get("returning")
    if not isinstance(returning, exp.DataType):  # sqlglot leaves None or False without one
        return value
    kind = returning.sql(dialect="duckdb").upper()
    if kind not in _JSON_TYPES:
        raise UnsupportedError(f"JSON_VALUE ... RETURNING {kind} is not supported by the emulator")
    return druid_cast(value, exp.DataType.build("DOUBLE" if kind in ("FLOAT", "REAL") else kind))


_LONG_TYPES = ("BIGINT", "INT", "SMALLINT", "TINYINT")
_DOUBLE_TYPES = ("DOUBLE", "FLOAT", "DECIMAL")


def druid_cast(value: Node, to: Node) -> Node:
    """Druid's ``CAST(value AS to)``: NULL for a value that doesn't convert; to a number, a time
    is its epoch milliseconds and a fraction is truncated toward a long (``druid_long``)."""
    if to.is_type(*_LONG_TYPES):
        value = call("druid_long", value)
    elif to.is_type(*_DOUBLE_TYPES):
        value = call("druid_double", value)
    else:
        return exp.TryCast(this=value, to=to)
    # Druid's DECIMAL is a double; FLOAT and the narrower longs keep their declared type.
    return value if to.is_type("BIGINT", "DOUBLE", "DECIMAL") else exp.TryCast(this=value, to=to)


_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]*$")
_OFFSET = re.compile(r"^([+-])(\d{1,2})(?::?(\d{2}))?$")


@dataclass(frozen=True)
class Zone:
    """A session time zone: its name for DuckDB (ICU) and its Python tzinfo."""

    duck: str
    tzinfo: dt.tzinfo

    def to_instant(self, node: Node) -> Node:
        """A wall-clock TIMESTAMP in the zone as a TIMESTAMPTZ instant."""
        return call("timezone", exp.Literal.string(self.duck), node)


def shift(node: Node, source: Zone | None, target: Zone | None) -> Node:
    """A wall-clock TIMESTAMP in ``source`` as the wall clock of the same instant in
    ``target`` (None = UTC)."""
    instant = call("timezone", exp.Literal.string(source.duck if source else "UTC"), node)
    return call("timezone", exp.Literal.string(target.duck if target else "UTC"), instant)


# A timestamp text that carries its own offset (TIME_PARSE reads it as that instant).
# (after the time part: a date's "-01" is not an offset)
HAS_OFFSET = r"T[0-9:.,]*(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def parse_in_zone(text: Node, parsed_naive: Node, session: Zone | None, zone: Zone | None) -> Node:
    """TIME_PARSE with an explicit zone and no pattern: text without an offset is a wall-clock
    time in ``zone``; text with one is that instant. Both end as the session's wall clock."""
    with_offset = exp.cast(
        exp.TryCast(this=text.copy(), to=exp.DataType.build("TIMESTAMPTZ")), "TIMESTAMP"
    )
    has_offset = call("regexp_matches", text.copy(), exp.Literal.string(HAS_OFFSET))
    return exp.If(this=has_offset, true=with_offset, false=shift(parsed_naive, zone, session))


def zone_argument(node: Node) -> Zone | None:
    """A time function's literal time zone argument as a Zone (None = UTC)."""
    if isinstance(node, exp.Literal) and node.is_string:
        return parse_zone(str(node.this))
    raise UnsupportedError("A time zone argument must be a string literal in the emulator")


def parse_zone(name: Any) -> Zone | None:
    """``context.sqlTimeZone`` → a Zone (None for UTC); SqlError for an unknown zone."""
    if name is None:
        return None
    text = str(name).strip()
    if text.upper() in ("UTC", "Z", "ETC/UTC", "GMT", "+00:00", "-00:00", "+00"):
        return None
    found = _OFFSET.match(text)
    if found:
        sign, hours, minutes = found.group(1), int(found.group(2)), int(found.group(3) or 0)
        if hours > 18 or minutes > 59:
            raise SqlError(f"The datetime zone id '{text}' is not recognised")
        delta = dt.timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
        return Zone(f"GMT{sign}{hours:02d}:{minutes:02d}", dt.timezone(delta))
    try:
        if not _ZONE_NAME.match(text):  # the name goes into SQL text: letters, digits, _+-/
            raise ValueError(text)
        return Zone(text, zoneinfo.ZoneInfo(text))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SqlError(f"The datetime zone id '{text}' is not recognised") from None


def zone_offset_text(zone: Zone, local: Node, *, colon: bool) -> Node:
    """A SQL expression printing the zone's UTC offset at a wall-clock time, as Joda's
    ``Z`` (``+0200``) or its ISO form (``+02:00``, ``Z`` at a zero offset) does."""
    sep = exp.Literal.string(":" if colon else "")
    return call("druid_offset", local, exp.Literal.string(zone.duck), sep)
