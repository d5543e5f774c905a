"""Upload files to a Polaris project's file storage (``POST /files``) for batch ingestion jobs."""

from __future__ import annotations

import glob as globlib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_polaris._compat import AirflowFailException, object_storage_path
from airflow_provider_polaris.operators._base import PolarisOperator
from airflow_provider_polaris.operators._sources import open_source

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context

IfFileExists = Literal["skip_same", "replace", "fail"]
_GLOB_CHARS = frozenset("*?[")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One file to upload: where it is read from and the name it gets in Polaris."""

    location: str
    name: str


def _is_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def expand_paths(paths: Sequence[str] | str, name_prefix: str | None = None) -> list[SourceFile]:
    """Expand local paths, local globs and fsspec URLs (globs allowed in the last parts) into
    files; each keeps its base name, prefixed with ``name_prefix``. Raises ``FileNotFoundError``
    naming a pattern or path that matches nothing, and ``ValueError`` on duplicate names."""
    if isinstance(paths, str):
        paths = [paths]
    files: list[SourceFile] = []
    for entry in paths:
        entry = str(entry)
        if "://" in entry:
            matches = _expand_url(entry)
        elif _is_glob(entry):
            matches = [
                p
                for p in sorted(globlib.glob(os.path.expanduser(entry), recursive=True))
                if os.path.isfile(p)
            ]
        else:
            path = os.path.expanduser(entry)
            matches = [path] if os.path.isfile(path) else []
        if not matches:
            raise FileNotFoundError(f"no file matches {entry!r}")
        files.extend(
            SourceFile(m, f"{name_prefix or ''}{m.rstrip('/').rsplit('/', 1)[-1]}") for m in matches
        )
    seen: dict[str, str] = {}
    for f in files:
        if f.name in seen and seen[f.name] != f.location:
            raise ValueError(
                f"two files would get the Polaris name {f.name!r}: {seen[f.name]} and "
                f"{f.location}; upload them with different name_prefix values"
            )
        seen[f.name] = f.location
    return list({f.name: f for f in files}.values())


def _expand_url(url: str) -> list[str]:
    scheme, _, rest = url.partition("://")
    parts = rest.split("/")
    first_glob = next((i for i, p in enumerate(parts) if _is_glob(p)), None)
    if first_glob is None:
        path = object_storage_path(url)
        return [url] if path.is_file() else []
    base = object_storage_path(f"{scheme}://{'/'.join(parts[:first_glob])}")
    pattern = "/".join(parts[first_glob:])
    return sorted(str(p) for p in base.glob(pattern) if p.is_file())


def md5_of(location: str) -> tuple[str, int]:
    """MD5 hex digest and size of a file, read in 1 MiB chunks (never the whole file at once)."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open_source(location) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _stored_md5(meta: dict[str, Any]) -> str | None:
    digest = meta.get("digest")
    if isinstance(digest, dict) and str(digest.get("algo", "md5")).lower() == "md5":
        value = digest.get("hash")
        return str(value).lower() if value else None
    return None


class PolarisUploadFilesOperator(PolarisOperator):
    """Upload files to Polaris (``POST /v1/projects/{project}/files``) and return their names.

    :param paths: local paths, local globs (``data/*.json.gz``, ``**`` allowed) and fsspec URLs
        Airflow's ``ObjectStoragePath`` can open (``file://``, ``s3://bucket/key``,
        ``gs://bucket/prefix/*.csv``; remote schemes need their fsspec package). Templated.
    :param if_exists: what to do when Polaris already holds a file of that name:
        ``skip_same`` (default) keeps it if its MD5 equals the local file's and fails otherwise;
        ``replace`` deletes it and uploads again; ``fail`` fails.
    :param name_prefix: prefix for the Polaris file names (base names are used otherwise).
    :param data_format: / :param compression_format: sent to Polaris when set (otherwise it
        infers them from the extension).
    :return: (XCom) the Polaris file names, in input order, ready for a batch job's
        ``source.fileList``.

    Files are streamed: MD5 is computed in one chunked pass, the upload streams a second pass,
    and the MD5 Polaris reports is checked against the local one (a mismatching upload is
    deleted and the task fails).
    """

    template_fields: Sequence[str] = ("paths", "name_prefix")

    def __init__(
        self,
        *,
        paths: Sequence[str] | str,
        if_exists: IfFileExists = "skip_same",
        name_prefix: str | None = None,
        data_format: str | None = None,
        compression_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_exists not in ("skip_same", "replace", "fail"):
            raise ValueError("if_exists must be 'skip_same', 'replace' or 'fail'")
        self.paths = paths
        self.if_exists = if_exists
        self.name_prefix = name_prefix
        self.data_format = data_format
        self.compression_format = compression_format

    def execute(self, context: Context) -> list[str]:
        files = expand_paths(self.paths, self.name_prefix)
        self.log.info("Uploading %d file(s) to Polaris", len(files))
        client = self.hook.get_client()
        names = []
        for source in files:
            self._upload_one(client, source)
            names.append(source.name)
        return names

    def _upload_one(self, client: Any, source: SourceFile) -> None:
        from airflow_provider_polaris.client import PolarisConflictError

        local_md5, size = md5_of(source.location)
        try:
            meta = self._send(client, source)
        except PolarisConflictError:
            if self.if_exists == "fail":
                raise AirflowFailException(
                    f"Polaris already has a file named {source.name!r} (if_exists='fail')"
                ) from None
            if self.if_exists == "skip_same":
                stored = _stored_md5(client.files.get(source.name))
                if stored == local_md5:
                    self.log.info(
                        "%s: already in Polaris with the same MD5 %s; skipped", source.name, stored
                    )
                    return
                raise AirflowFailException(
                    f"Polaris already has a file named {source.name!r} with different content "
                    f"(stored MD5 {stored}, local MD5 {local_md5} of {source.location}); "
                    "use if_exists='replace' to overwrite it"
                ) from None
            self.log.info("%s: exists in Polaris; deleting it to replace it", source.name)
            client.files.delete(source.name)
            meta = self._send(client, source)
        stored = _stored_md5(meta)
        if stored is None:
            self.log.warning("%s: Polaris returned no MD5; upload not verified", source.name)
        elif stored != local_md5:
            self.log.error("%s: MD5 mismatch; deleting the bad upload", source.name)
            try:
                client.files.delete(source.name)
            except Exception as exc:  # never hide the mismatch behind a cleanup failure
                self.log.warning("could not delete the bad upload %s: %s", source.name, exc)
            raise AirflowFailException(
                f"upload of {source.location} as {source.name!r} is corrupt: Polaris stored MD5 "
                f"{stored}, local MD5 {local_md5}; the upload was deleted"
            )
        self.log.info(
            "%s: uploaded %d bytes from %s (MD5 %s)", source.name, size, source.location, local_md5
        )

    def _send(self, client: Any, source: SourceFile) -> dict[str, Any]:
        with open_source(source.location) as handle:
            result: dict[str, Any] = client.files.upload(
                source.name,
                handle,
                data_format=self.data_format,
                compression_format=self.compression_format,
            )
        return result
