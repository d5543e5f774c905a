"""Druid SQL → DuckDB SQL: parse with sqlglot, rewrite Druid's functions, keep Druid's answers.

:func:`translate` returns a query's DuckDB text, the tables it reads and the names Druid gives
its result columns (``EXPR$<n>`` when unnamed). Functions DuckDB lacks or computes differently
(``TIME_FLOOR``, ``LATEST``, exact ``APPROX_COUNT_DISTINCT`` ...) are rewritten here; anything
unknown fails with an UNSUPPORTED error naming it, never a silently different answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.druid import Druid
from sqlglot.errors import ParseError, TokenError

from airflow_provider_polaris.testing.dataplane.druid_functions import (
    HAS_OFFSET,
    SKETCHES,
    Zone,
    call,
    druid_cast,
    json_value,
    merged,
    parse_in_zone,
    plain,
    shift,
    zone_argument,
    zone_offset_text,
)
from airflow_provider_polaris.testing.dataplane.errors import (
    ExpressionError,
    SqlError,
    UnsupportedError,
)
from airflow_provider_polaris.testing.dataplane.timeutil import (
    joda_to_strftime,
    parse_interval,
    parse_period,
)

# sqlglot's node classes are typed loosely (and renamed across versions): nodes are Any here.
Node = Any
_INGEST_RE = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(INSERT|REPLACE)\b", re.IGNORECASE)
# Druid's time units → DuckDB's (the same words in lower case).
_UNITS = {u: u.lower() for u in ("MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK")}
_UNITS |= {u: u.lower() for u in ("MONTH", "QUARTER", "YEAR")}
# EXTRACT/TIME_EXTRACT units → DuckDB date parts (Druid's DOW is ISO: Monday = 1).
_EXTRACT_PARTS = {
    **{unit: part for unit, part in _UNITS.items() if unit != "MILLISECOND"},
    **{unit: unit.lower() for unit in ("ISOYEAR", "DECADE", "CENTURY", "MILLENNIUM")},
    **dict.fromkeys(("DOW", "DAYOFWEEK", "ISODOW"), "isodow"),
    **dict.fromkeys(("DOY", "DAYOFYEAR"), "doy"),
}


class DruidDialect(Druid):
    """Druid as sqlglot reads it, with TIMESTAMPADD/DIFF kept as plain calls (unit first)."""

    class Parser(Druid.Parser):  # type: ignore[valid-type,misc]
        FUNCTIONS = {
            **Druid.Parser.FUNCTIONS,
            "TIMESTAMPDIFF": lambda args: exp.Anonymous(this="TIMESTAMPDIFF", expressions=args),
            "TIMESTAMPADD": lambda args: exp.Anonymous(this="TIMESTAMPADD", expressions=args),
        }


@dataclass(frozen=True)
class Translation:
    """A query rewritten for DuckDB."""

    sql: str
    tables: tuple[str, ...]  # the emulator tables it reads
    names: tuple[str | None, ...]  # Druid's name per select item; None for ``*``
    placeholders: int


def translate(
    sql: str,
    now_ms: int,
    zone: Zone | None = None,
    sketches_of: Callable[[tuple[str, ...]], Mapping[str, str]] | None = None,
) -> Translation:
    """Rewrite one Druid SELECT for DuckDB; SqlError for what Druid or the emulator refuses.
    With a session ``zone`` (``sqlTimeZone``), ``__time`` is read as the zone's wall clock;
    ``sketches_of`` gives the stored sketch columns (column → kind) of the tables read."""
    if _INGEST_RE.match(sql):
        raise UnsupportedError(
            "INSERT and REPLACE must be submitted as SQL ingestion jobs, not as queries"
        )
    statements = parse_statements(sql)
    if len(statements) != 1:
        raise SqlError("Incorrect syntax: expected exactly one statement")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise UnsupportedError(f"Only SELECT queries are supported, not {tree.key.upper()}")
    tables = read_tables(tree)
    tree = rewrite_all(tree, now_ms, zone, sketches_of(tables) if sketches_of else {})
    if zone is not None:  # after the rewrites: they must not see the DuckDB calls it adds
        _localize_tables(tree, zone)
    names = name_outputs(tree)
    _order_groups(tree)
    placeholders = len(list(tree.find_all(exp.Placeholder)))
    return Translation(tree.sql(dialect="duckdb"), tables, names, placeholders)


def parse_statements(sql: str) -> list[Node]:
    """The statements of a Druid SQL text as sqlglot trees; a syntax error as Druid words it."""
    try:
        return [s for s in sqlglot.parse(sql, read=DruidDialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise _syntax_error(exc) from None


def translate_expression(text: str, now_ms: int) -> str:
    """The DuckDB text of one Druid expression (a mapping or a filter), e.g.
    ``TIME_PARSE("ts")``; SqlError for what Druid or the emulator refuses."""
    return str(rewrite_all(parse_expression(text), now_ms).sql(dialect="duckdb"))


def parse_expression(text: str) -> Node:
    """One Druid expression as a sqlglot tree; ExpressionError when it doesn't parse."""
    try:
        return sqlglot.parse_one(text, read=DruidDialect, into=exp.Condition)
    except (ParseError, TokenError) as exc:
        raise _syntax_error(exc) from None


def _syntax_error(exc: Exception) -> SqlError:
    first = str(exc).splitlines()[0] if str(exc) else "cannot parse"
    return ExpressionError(f"Incorrect syntax: {first.replace('Unexpected', 'unexpected')}")


def rewrite_all(
    tree: Node, now_ms: int, zone: Zone | None = None, sketches: Mapping[str, str] | None = None
) -> Node:
    """Rewrite every node children first, so a rewritten call's arguments are rewritten too
    and the DuckDB calls a rewrite introduces are never looked at again."""
    sketches = sketches or {}
    for node in reversed(list(tree.walk())):
        new = _rewrite(node, now_ms, zone, sketches)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def read_tables(tree: Node, stage: Callable[[Node], None] | None = None) -> tuple[str, ...]:
    """The emulator tables a query reads (``druid.`` dropped), or with ``stage`` each source
    of an ingestion job handed to it; a table function outside a job is refused."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: dict[str, None] = {}
    for table in list(tree.find_all(exp.Table)):
        if stage is not None and table.name.lower() not in ctes:
            stage(table)  # an ingestion job: read the source's job-start snapshot
            continue
        if isinstance(table.this, exp.Func) or not isinstance(table.this, exp.Identifier):
            raise UnsupportedError(
                f"{table.this.sql('druid')} can only be used in SQL ingestion jobs"
            )
        if table.db and table.db.lower() != "druid":
            raise SqlError(f"Object '{table.db}.{table.name}' not found")
        table.set("db", None)
        table.set("catalog", None)
        if table.name.lower() not in ctes:
            found[table.name] = None
    return tuple(found)


def _localize_tables(tree: Node, zone: Zone) -> None:
    """Read each emulator table through a view of it whose ``__time`` is the zone's wall clock
    (Druid SQL's local timestamps), keeping its name or alias for the rest of the query."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if table.name.lower() in ctes:
            continue
        time = exp.column("__time", quoted=True)
        star = exp.Star(replace=[exp.alias_(shift(time, None, zone), "__time", quoted=True)])
        view = exp.select(star).from_(exp.Table(this=table.this.copy()))
        alias = table.alias or table.name
        table.replace(exp.Subquery(this=view, alias=exp.TableAlias(this=exp.to_identifier(alias))))


def name_outputs(tree: Node) -> tuple[str | None, ...]:
    """Alias the outer select's items with Druid's names (``EXPR$<n>`` when unnamed)."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return ()
    names: list[str | None] = []
    items: list[Node] = []
    for index, item in enumerate(select.expressions):
        names.append(None if item.is_star else output_name(item, index))
        if isinstance(item, exp.Star | exp.Column):
            items.append(item)  # DuckDB names a column the same; an alias would shadow it
        else:
            items.append(exp.alias_(item.unalias(), names[-1], quoted=True))
    select.set("expressions", items)
    return tuple(names)


def output_name(item: Node, index: int) -> str:
    """Druid's name of the select item at ``index``: its alias or column, else ``EXPR$<n>``."""
    if isinstance(item, exp.Alias):
        return str(item.alias)
    if isinstance(item, exp.Column):
        return str(item.name)
    return f"EXPR${index}"


def _order_groups(tree: Node) -> None:
    """Druid returns GROUP BY results sorted by their keys when no ORDER BY says otherwise, and
    plans ``SELECT DISTINCT`` as a GROUP BY of every item (so sorted by all of them)."""
    if not isinstance(tree, exp.Select) or tree.args.get("order"):
        return
    if tree.args.get("group"):
        keys = [key.copy() for key in tree.args["group"].expressions]
    elif tree.args.get("distinct"):
        keys = [exp.var("ALL")]
    else:
        return
    tree.set("order", exp.Order(expressions=[exp.Ordered(this=key) for key in keys]))


def _literal_text(node: Node, what: str) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    raise UnsupportedError(f"{what} must be a string literal in the emulator")


def _interval(period: str) -> tuple[Node, bool]:
    """A DuckDB INTERVAL for an ISO period, and whether it is whole weeks."""
    try:
        parsed = parse_period(period)
        if parsed.months == 0 and parsed.millis == 0:  # P0D can't bucket time
            raise ValueError(period)
    except ValueError:
        raise SqlError(f"Invalid period [{period}]", "RUNTIME_FAILURE", "runtimeFailure") from None
    text = f"{parsed.months} months {parsed.millis * 1000} microseconds"
    return exp.cast(exp.Literal.string(text), "INTERVAL"), parsed.weeks_only


def _unit_interval(unit_node: Node) -> Node:
    unit = unit_node.name.upper()
    if unit not in _UNITS:
        raise UnsupportedError(f"Time unit '{unit}' is not supported")
    return exp.cast(exp.Literal.string(f"1 {_UNITS[unit]}"), "INTERVAL")


def _local(node: Node, zone: Zone | None) -> Node:
    """A UTC TIMESTAMP as the session zone's wall clock (unchanged without a zone)."""
    return node if zone is None else shift(node, None, zone)


def _epoch_ms(ms: int) -> Node:
    # int(): timeutil's Timestamp is an int subclass whose str() is not a number
    return call("epoch_ms", exp.Literal.number(int(ms)))


def _time_floor(args: list[Node]) -> Node:
    if len(args) > 2 and not all(isinstance(a, exp.Null) for a in args[2:]):
        raise UnsupportedError("TIME_FLOOR with an origin or time zone is not supported")
    interval, weeks = _interval(_literal_text(args[1], "TIME_FLOOR's period"))
    origin = "1970-01-05" if weeks else "1970-01-01"  # ISO weeks start on Monday
    return call("time_bucket", interval, args[0], exp.cast(exp.Literal.string(origin), "TIMESTAMP"))


def _ceil_of(value: Node, floor: Node, step: Node) -> Node:
    return exp.Case(ifs=[exp.If(this=floor.eq(value), true=value.copy())], default=floor + step)


def _time_extract(value: Node, unit: str, zone: Zone | None = None) -> Node:
    """EXTRACT/TIME_EXTRACT; EPOCH counts from the instant of a wall-clock time in ``zone``."""
    unit = unit.upper()
    if unit == "EPOCH":
        instant = zone.to_instant(value) if zone is not None else value
        return exp.cast(call("floor", call("epoch", instant)), "BIGINT")
    if unit == "MILLISECOND":
        return exp.Mod(this=call("millisecond", value), expression=exp.Literal.number(1000))
    part = _EXTRACT_PARTS.get(unit)
    if part is None:
        raise UnsupportedError(f"Time unit '{unit}' is not supported in EXTRACT")
    return exp.cast(call("date_part", exp.Literal.string(part), value), "BIGINT")


def _count_distinct(value: Node) -> Node:
    """Druid's approximate distinct counts, exact here (sketches are refused: see plain)."""
    return exp.Count(this=exp.Distinct(expressions=[plain(value)]))


def _regexp_extract(args: list[Node]) -> Node:
    index = args[2] if len(args) > 2 else exp.Literal.number(0)
    found = call("regexp_matches", args[0].copy(), args[1].copy())
    return exp.Case(ifs=[exp.If(this=found, true=call("regexp_extract", *args[:2], index))])


def _time_in_interval(args: list[Node], zone: Zone | None = None) -> Node:
    text = _literal_text(args[1], "TIME_IN_INTERVAL's interval")
    try:
        start, end = parse_interval(text)
    except ValueError:
        raise SqlError(f"Invalid interval [{text}]") from None
    bounds = [_epoch_ms(start), _epoch_ms(end)]
    if zone is not None:  # an instant with an offset → the session's wall clock; else local
        sides = zip(bounds, text.split("/"), strict=True)
        bounds = [shift(b, None, zone) if _OFFSET_END.search(side) else b for b, side in sides]
    return exp.paren(exp.and_(args[0] >= bounds[0], args[0] < bounds[1]))


_OFFSET_END = re.compile(HAS_OFFSET)


def _joda(args: list[Node], what: str) -> str | None:
    if len(args) > 2 and not all(isinstance(a, exp.Null) for a in args[2:]):
        raise UnsupportedError(f"{what} with a time zone is not supported")
    if len(args) < 2 or isinstance(args[1], exp.Null):
        return None
    return joda_to_strftime(_literal_text(args[1], f"{what}'s pattern"))


def _time_parse(args: list[Node]) -> Node:
    pattern = _joda(args, "TIME_PARSE")
    if pattern is None:
        parsed: Node = exp.TryCast(this=args[0], to=exp.DataType.build("TIMESTAMPTZ"))
    else:
        parsed = call("try_strptime", args[0], exp.Literal.string(pattern))
    # Druid (Joda) keeps whole milliseconds of a time it parses.
    return call("date_trunc", exp.Literal.string("millisecond"), exp.cast(parsed, "TIMESTAMP"))


def _time_format(args: list[Node], zone: Zone | None = None) -> Node:
    pattern = _joda(args, "TIME_FORMAT")
    if zone is None:
        pattern = pattern or "%Y-%m-%dT%H:%M:%S.%gZ"
        pattern = pattern.replace("%z", "+0000").replace("%Z", "UTC")
        return call("strftime", args[0], exp.Literal.string(pattern))
    if pattern is not None and "%Z" in pattern:
        raise UnsupportedError("TIME_FORMAT's zone name ('z') with a sqlTimeZone is not supported")
    offset = zone_offset_text(zone, args[0].copy(), colon=pattern is None)
    pattern = pattern or "%Y-%m-%dT%H:%M:%S.%g%z"  # ISO, as Joda prints it in the zone
    parts: list[Node] = []
    for index, piece in enumerate(pattern.split("%z")):
        if index:
            parts.append(offset.copy())
        if piece:
            parts.append(call("strftime", args[0].copy(), exp.Literal.string(piece)))
    return call("concat", *parts) if len(parts) > 1 else parts[0]


_CALENDAR_UNITS = frozenset({"MONTH", "QUARTER", "YEAR"})


def _on_instants(
    unit: str, zone: Zone | None, compute: Callable[..., Node], *times: Node, back: bool = True
) -> Node:
    """Time arithmetic in ``unit``: Druid adds or counts days, hours ... on the instant (a day
    is 86,400 s, also across a DST change), and months on the session zone's calendar. With a
    session zone, ``times`` (its wall clock) are taken to UTC first, and a time result back."""
    if zone is None or unit.upper() in _CALENDAR_UNITS:
        return compute(*times)
    result = compute(*(shift(t, zone, None) for t in times))
    return _local(result, zone) if back else result


def _timestampadd(args: list[Node], zone: Zone | None) -> Node:
    step = exp.paren(args[1]) * _unit_interval(args[0])
    return _on_instants(args[0].name, zone, lambda t: t + step, args[2])


def _timestampdiff(args: list[Node], zone: Zone | None) -> Node:
    unit = exp.Literal.string(_UNITS.get(args[0].name.upper(), args[0].name))
    return _on_instants(
        args[0].name, zone, lambda a, b: call("date_sub", unit, a, b), *args[1:3], back=False
    )


def _time_shift(args: list[Node]) -> Node:
    interval, _ = _interval(_literal_text(args[1], "TIME_SHIFT's period"))
    return exp.Add(this=args[0], expression=exp.Mul(this=exp.paren(args[2]), expression=interval))


# Druid functions sqlglot reads as plain calls. The ones it knows (NVL, SAFE_DIVIDE, PARSE_JSON,
# LN, LEFT, UPPER ...) become its own nodes, which it writes as DuckDB SQL itself.
# Each is called with the call's arguments and the session zone (None = UTC).
_ANONYMOUS: dict[str, Callable[[list[Node], Zone | None], Node]] = {
    "TIME_FLOOR": lambda a, _: _time_floor(a),
    "TIME_CEIL": lambda a, _: _ceil_of(
        a[0], _time_floor(a), _interval(_literal_text(a[1], "period"))[0]
    ),
    "TIME_SHIFT": lambda a, _: _time_shift(a),
    "TIME_EXTRACT": lambda a, zone: _time_extract(
        a[0], _literal_text(a[1], "TIME_EXTRACT's unit") if len(a) > 1 else "MILLISECOND", zone
    ),
    "TIME_IN_INTERVAL": _time_in_interval,
    "TIME_PARSE": lambda a, _: _time_parse(a),
    "TIME_FORMAT": _time_format,
    "MILLIS_TO_TIMESTAMP": lambda a, zone: _local(call("epoch_ms", exp.cast(a[0], "BIGINT")), zone),
    "TIMESTAMP_TO_MILLIS": lambda a, zone: call(  # a TIMESTAMP only, as Druid: not a long
        "epoch_ms", zone.to_instant(a[0]) if zone else exp.cast(a[0], "TIMESTAMP")
    ),
    "TIMESTAMPADD": _timestampadd,
    "TIMESTAMPDIFF": _timestampdiff,
    "CONTAINS_STRING": lambda a, _: call("contains", *a),
    "ICONTAINS_STRING": lambda a, _: call("contains", call("lower", a[0]), call("lower", a[1])),
    "TEXTCAT": lambda a, _: exp.DPipe(this=a[0], expression=a[1]),
    "BTRIM": lambda a, _: call("trim", *a),
    "TRY_PARSE_JSON": lambda a, _: call("try", call("json", a[0])),
    "TO_JSON_STRING": lambda a, _: exp.cast(call("to_json", a[0]), "VARCHAR"),
    # The value of the latest (earliest) row, NULL included, as Druid's first/last aggregators.
    "LATEST": lambda a, _: call("arg_max_null", a[0], exp.column("__time", quoted=True)),
    "EARLIEST": lambda a, _: call("arg_min_null", a[0], exp.column("__time", quoted=True)),
    "LATEST_BY": lambda a, _: call("arg_max_null", *a[:2]),
    "EARLIEST_BY": lambda a, _: call("arg_min_null", *a[:2]),
    "APPROX_COUNT_DISTINCT_DS_HLL": lambda a, _: _count_distinct(a[0]),
    "APPROX_COUNT_DISTINCT_DS_THETA": lambda a, _: _count_distinct(a[0]),
}


_ZONE_ARG = {"TIME_FLOOR": 3, "TIME_CEIL": 3, "TIME_EXTRACT": 2, "TIME_FORMAT": 2, "TIME_PARSE": 2}


def _explicit_zone(name: str, args: list[Node], session: Zone | None) -> Node | None:
    """A time function given its own zone: run it on the wall clock of that zone, then bring
    a TIMESTAMP result back to the session's; None when no zone argument is given."""
    at = _ZONE_ARG.get(name)
    if at is None or len(args) <= at or isinstance(args[at], exp.Null):
        return None
    zone = zone_argument(args[at])
    rest = args[:at]
    if name == "TIME_PARSE":
        parsed = _time_parse(rest)
        if len(rest) < 2 or isinstance(rest[1], exp.Null):
            naive = exp.TryCast(this=rest[0].copy(), to=exp.DataType.build("TIMESTAMP"))
            return parse_in_zone(rest[0], naive, session, zone)
        return parsed if "%z" in str(_joda(rest, name)) else shift(parsed, zone, session)
    if name == "TIME_EXTRACT" and len(rest) > 1 and rest[1].name.upper() == "EPOCH":
        return _time_extract(rest[0], "EPOCH", session)
    rest[0] = shift(rest[0], session, zone)
    result = _ANONYMOUS[name](rest, zone)
    return result if name in ("TIME_EXTRACT", "TIME_FORMAT") else shift(result, zone, session)


def _rewrite(node: Node, now_ms: int, zone: Zone | None, sketches: Mapping[str, str]) -> Node:
    if type(node) is exp.Cast:
        return druid_cast(node.this, node.args["to"])
    if isinstance(node, exp.Anonymous):
        name = str(node.this).upper()
        args = list(node.expressions)
        rewritten = _explicit_zone(name, args, zone) or merged(name, args, sketches)
        if rewritten is not None:
            return rewritten
        if name in _ANONYMOUS:
            return _ANONYMOUS[name](args, zone)
        if name in SKETCHES:
            return SKETCHES[name](args)
        raise UnsupportedError(f"Function '{name}' is not supported by the emulator")
    if isinstance(node, exp.CurrentTimestamp | exp.CurrentDate):
        now = _local(_epoch_ms(now_ms), zone)
        return now if isinstance(node, exp.CurrentTimestamp) else exp.cast(now, "DATE")
    if isinstance(node, exp.JSONValue):
        return json_value(node)
    interval = node.expression if isinstance(node, exp.Add | exp.Sub) else None
    unit = interval.args.get("unit") if isinstance(interval, exp.Interval) else None
    if zone is not None and unit is not None:  # t ± INTERVAL 'n' UNIT in a session zone
        moved = type(node)  # Add or Sub, rebuilt around the time taken to UTC
        return _on_instants(
            unit.name, zone, lambda t: moved(this=t, expression=interval), node.this
        )
    if isinstance(node, (exp.Floor, exp.Ceil)) and node.args.get("to") is not None:
        unit = node.args["to"].name.upper()
        trunc = call("date_trunc", exp.Literal.string(_UNITS.get(unit, unit)), node.this)
        if isinstance(node, exp.Floor):
            return trunc
        return _ceil_of(node.this, trunc, _unit_interval(node.args["to"]))
    if isinstance(node, exp.Extract):
        return _time_extract(node.expression, node.this.name, zone)
    if isinstance(node, exp.ApproxDistinct):
        merge = merged("APPROX_COUNT_DISTINCT", [node.this], sketches)
        return _count_distinct(node.this) if merge is None else merge
    if isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct):
        counted = node.this.expressions  # COUNT(DISTINCT a, b) counts pairs: never a merge
        merge = merged("APPROX_COUNT_DISTINCT", counted, sketches) if len(counted) == 1 else None
        return node if merge is None else merge
    if isinstance(node, exp.RegexpExtract):
        args = [node.this, node.expression]
        if node.args.get("group") is not None:
            args.append(node.args["group"])
        return _regexp_extract(args)
    return node
