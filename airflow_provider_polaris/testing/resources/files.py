"""Uploaded files (polaris-api.md §7): upload, read, delete, and the paginated, searchable list.

A file's format and compression default to what its name's extensions say.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._clock import iso
from .._core import StateCore
from .._errors import ApiError, bad, conflict, found, not_found
from .._http import RouteTable, created, json_response, media_type, principal, query_lists
from .._rules import COMPRESSIONS, FILE_SORT_COLUMNS, FORMATS, Params, check_enum
from .projects import PROJECT_MAX_BYTES

_EXTENSION_FORMATS = {
    ".json": "nd-json",
    ".ndjson": "nd-json",
    ".jsonl": "nd-json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".orc": "orc",
    ".avro": "avro_ocf",
}
_EXTENSION_COMPRESSIONS = {".gz": "gz", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".sz": "sz"}


def _inferred(name: str) -> tuple[str, str]:
    """(data format, compression) a file name's extensions say."""
    stem, compression = name, "none"
    for ext, comp in _EXTENSION_COMPRESSIONS.items():
        if stem.lower().endswith(ext):
            stem, compression = stem[: -len(ext)], comp
            break
    data_format = next(
        (f for ext, f in _EXTENSION_FORMATS.items() if stem.lower().endswith(ext)), "nd-json"
    )
    return data_format, compression


class FilesApi(StateCore):
    """File requests."""

    def upload_file(
        self,
        name: str,
        content: bytes,
        principal: dict[str, str],
        data_format: str | None,
        compression: str | None,
    ) -> dict[str, Any]:
        """POST /files (multipart already parsed by the handler)."""
        with self.lock:
            if not name or name.startswith("/"):
                raise bad("The file needs a name", "file")
            if name in self.files:
                raise conflict(f"A file with name [{name}] already exists", "file")
            if data_format is not None:
                check_enum(data_format, FORMATS, "dataFormat")
            if compression is not None:
                check_enum(compression, COMPRESSIONS, "compressionFormat")
            inferred_format, inferred_compression = _inferred(name)
            meta = {
                "id": str(uuid.uuid4()),
                "name": name,
                "sizeBytes": len(content),
                "dataFormat": data_format or inferred_format,
                "compressionFormat": compression or inferred_compression,
                "digest": {"algo": "md5", "hash": hashlib.md5(content).hexdigest()},
                "uploadedBy": principal,
                "uploadedOnDatetime": iso(self.clock.now()),
            }
            self.files[name] = (content, meta)
            return dict(meta)

    def get_file(self, name: str) -> dict[str, Any]:
        """GET /files/{name}."""
        with self.lock:
            return dict(found(self.files, name, "File", "name")[1])

    def delete_file(self, name: str) -> None:
        """DELETE /files/{name}."""
        with self.lock:
            if self.files.pop(name, None) is None:
                raise not_found(f"File {name} not found", "name")

    def list_files(self, params: Mapping[str, Sequence[str]], path: str) -> dict[str, Any]:
        """GET /files with offset pagination, search and sort; links to neighbouring pages."""
        with self.lock:
            query = Params(params)
            limit = query.integer("paginationLimit", 1000, 1, 1000)
            offset = query.integer("paginationOffset", 0, 0)
            column = check_enum(query.one("sortColumn") or "name", FILE_SORT_COLUMNS, "sortColumn")
            descending = query.descending("ASC")
            search = (query.one("searchString") or "").lower()
            metas = [meta for _, meta in self.files.values() if search in meta["name"].lower()]
            metas.sort(key=lambda m: _file_sort_key(m, column), reverse=descending)
            used = self._used_bytes()

            def link(at: int) -> str:
                return f"{path}?paginationLimit={limit}&paginationOffset={at}"

            return {
                "files": [dict(m) for m in metas[offset : offset + limit]],
                "totalCount": len(metas),
                "space": {
                    "allocatedBytes": PROJECT_MAX_BYTES,
                    "usedBytes": used,
                    "remainingBytes": PROJECT_MAX_BYTES - used,
                },
                "links": {
                    "@nextLink": link(offset + limit) if offset + limit < len(metas) else None,
                    "@prevLink": link(max(offset - limit, 0)) if offset > 0 else None,
                },
            }


def _file_sort_key(meta: dict[str, Any], column: str) -> Any:
    keys = {
        "compression_format": meta["compressionFormat"],
        "data_format": meta["dataFormat"],
        "digest_algo": meta["digest"]["algo"],
        "digest_hash": meta["digest"]["hash"],
        "name": meta["name"],
        "size_bytes": meta["sizeBytes"],
        "uploaded_by_user_name": meta["uploadedBy"]["username"],
        "uploaded_on_dt": meta["uploadedOnDatetime"],
    }
    return (keys[column], meta["name"])


async def _upload(state: FilesApi, request: Request) -> Response:
    if media_type(request) != "multipart/form-data":
        raise ApiError(
            415, "UnsupportedMediaType", "Upload files as multipart/form-data with a 'file' part"
        )
    form = await request.form()
    try:
        upload = next((v for _, v in form.multi_items() if not isinstance(v, str)), None)
        if upload is None:
            raise bad("A multipart part named 'file' is required", "file")
        content = await upload.read()
        name = upload.filename or ""
    finally:
        await form.close()
    params = request.query_params
    meta = state.upload_file(
        name,
        content,
        principal(request),
        params.get("dataFormat"),
        params.get("compressionFormat"),
    )
    return created(request, meta, meta["name"], 200)


async def _files(state: FilesApi, request: Request) -> Response:
    if request.method == "GET":
        return json_response(state.list_files(query_lists(request), f"{state.prefix}/files"))
    return await _upload(state, request)


async def _file(state: FilesApi, request: Request) -> Response:
    name = request.path_params["name"]
    if request.method == "GET":
        return json_response(state.get_file(name))
    state.delete_file(name)
    return Response(status_code=204)


# ``/files`` and one file (its name may hold slashes). (paths under the project)
ROUTES: RouteTable[FilesApi] = [
    ("/files", _files, ["GET", "POST"]),
    ("/files/{name:path}", _file, ["GET", "DELETE"]),
]
