"""Input formats: decompression, csv / tsv records, and ``inputSchema`` coercion of values."""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
import math
import zlib
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp, parse_timestamp


class FormatError(Exception):
    """Input the emulator can't read at all (unknown format, corrupt compression)."""


@dataclass(frozen=True)
class BadRecord:
    """One unparseable record; counted in ``numRowsSkippedByError``."""

    message: str


Record = dict[str, Any]

_MAGIC = (
    (b"\x1f\x8b", "gz", gzip.decompress),
    (b"BZh", "bz2", bz2.decompress),
    (b"\xfd7zXZ\x00", "xz", lzma.decompress),
)


def decompress(name: str, data: bytes) -> bytes:
    """Undo gzip/bz2/xz compression, detected by file name or magic bytes."""
    lowered = name.lower()
    for magic, suffix, decoder in _MAGIC:
        if data.startswith(magic) or lowered.endswith("." + suffix):
            try:
                return decoder(data)
            except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
                raise FormatError(f"cannot decompress {name!r} ({suffix}): {exc}") from None
    if lowered.endswith((".zst", ".zstd", ".sz", ".snappy", ".zip", ".tar")):
        raise FormatError(f"compression of {name!r} is not supported by the emulator")
    return data


def value_settings(settings: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The settings that describe records (unwrapping kafka/kinesis ``valueFormat``)."""
    settings = settings or {}
    if str(settings.get("format") or "").lower() in ("kafka", "kinesis"):
        return value_settings(settings.get("valueFormat"))
    return settings


def format_name(settings: Mapping[str, Any] | None, file_name: str = "") -> str:
    """The record format: ``formatSettings.format`` (the value format of kafka/kinesis
    envelopes), else guessed from the file name, else nd-json."""
    fmt = str(value_settings(settings).get("format") or "").lower()
    base = file_name.lower()
    for suffix in (".gz", ".bz2", ".xz"):
        base = base.removesuffix(suffix)
    if fmt or base.endswith((".csv", ".tsv")):
        return fmt or base[-3:]
    return "nd-json"


JSON_FORMATS = frozenset({"nd-json", "json", "ndjson"})


def read_records(
    text: str, settings: Mapping[str, Any] | None, file_name: str = ""
) -> Iterator[Record | BadRecord]:
    """Yield the records of one CSV or TSV file or payload (JSON lines are read by DuckDB,
    or by the caller)."""
    fmt = format_name(settings, file_name)
    if fmt not in ("csv", "tsv"):
        raise FormatError(f"input format {fmt!r} is not supported by the emulator")
    opts = value_settings(settings)
    tab = fmt == "tsv"
    delimiter = str(opts.get("delimiter") or ("\t" if tab else ","))
    skip = int(opts.get("skipHeaderRows") or 0)
    reader = csv.reader(
        text.removeprefix("\ufeff").splitlines(keepends=True)[skip:],  # a quoted newline stays
        delimiter=delimiter,
        quoting=csv.QUOTE_NONE if tab else csv.QUOTE_MINIMAL,
    )
    columns: list[str] | None = list(opts.get("columns") or []) or None
    try:
        for fields in reader:
            if not fields or fields == [""]:
                continue
            if columns is None:
                columns = [field.strip() for field in fields]  # the header row
                continue
            # As Druid's parser: missing trailing values are NULL, extra values are ignored.
            yield dict(zip(columns, fields, strict=False))
    except csv.Error as exc:
        yield BadRecord(f"line {reader.line_num + skip}: {exc}")


_LONG_TYPES = frozenset({"long", "bigint"})
_FLOAT_TYPES = frozenset({"double", "float"})
_STRING_TYPES = frozenset({"string", "varchar"})


def coerce(value: Any, data_type: str) -> Any:
    """Convert one input value to an inputSchema ``dataType``; raises ValueError when it can't."""
    kind = (data_type or "").lower()
    if value is None:
        return None
    if kind in _STRING_TYPES:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"))
        return str(value)
    if kind in _LONG_TYPES or kind in _FLOAT_TYPES:
        long = kind in _LONG_TYPES
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None  # an empty CSV cell is NULL for numbers
            if long:
                with suppress(ValueError):
                    return int(text)
            value = float(text)
        elif not isinstance(value, (bool, int, float)):
            raise ValueError(f"cannot convert {value!r} to {'long' if long else 'double'}")
        if not long:
            return float(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"cannot store {value!r} as long")
        return int(value)
    if kind == "timestamp":  # numbers are epoch millis, strings ISO-8601 or a number
        number = value
        if isinstance(value, str):
            with suppress(ValueError):
                return parse_timestamp(value)
            with suppress(ValueError):
                number = float(value.strip())
        finite = isinstance(number, (int, float)) and math.isfinite(number)
        if finite and not isinstance(number, bool):
            return Timestamp(int(number))
        raise ValueError(f"cannot parse {value!r} as a timestamp")
    if kind in ("json", "complex<json>") and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
