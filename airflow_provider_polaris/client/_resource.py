"""Resource plumbing: an endpoint is written once and served by both clients.

A resource method returns an :class:`~._core.ApiCall`; decorating it with :func:`endpoint`
makes ``client.jobs.get(id)`` execute the call — returning the value on a
:class:`~.sync.PolarisClient` and an awaitable of it on an :class:`~.aio.AsyncPolarisClient`.
The overloads below give mypy the right type for each client.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from airflow_provider_polaris.client._core import ApiCall

if TYPE_CHECKING:
    from airflow_provider_polaris.client.config import PolarisConfig

T = TypeVar("T")
P = ParamSpec("P")
M = TypeVar("M")


class SyncMode:
    """Type marker: resources of a :class:`~.sync.PolarisClient`."""


class AsyncMode:
    """Type marker: resources of an :class:`~.aio.AsyncPolarisClient`."""


#: The JSON shapes the endpoints return.
JsonObject = dict[str, Any]
JsonObjects = list[JsonObject]
Page = JsonObject


@dataclass
class Pager(Generic[T]):
    """A paginated listing: the call for a position, the items of a page, and whether another
    page follows (``has_more(page, next_position)``).

    Positions are item offsets (0, then the number of items read so far) unless ``advance``
    says otherwise: ``advance(position, items_on_page)`` gives the next position, e.g.
    ``position + 1`` for numbered pages. Walking stops at the first empty page.
    """

    page_call: Callable[[int], ApiCall[Page]]
    items: Callable[[Page], list[T]]
    has_more: Callable[[Page, int], bool]
    advance: Callable[[int, int], int] = operator.add


class Resource(Generic[M]):
    """Base of the API resource namespaces (``client.jobs``, ``client.tables``, ...)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def config(self) -> PolarisConfig:
        """The client's configuration."""
        return self._client.config


def _bind(build: Callable[..., Any], obj: Any, run: Callable[[Any], Any]) -> Callable[..., Any]:
    """``build`` as a method of ``obj`` whose result (a call or a pager) ``run`` carries out."""

    @functools.wraps(build)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return run(build(obj, *args, **kwargs))

    return bound


class endpoint(Generic[P, T]):
    """Turn a method that builds an :class:`ApiCall` into one that executes it."""

    def __init__(self, build: Callable[Concatenate[Any, P], ApiCall[T]]) -> None:
        self.build = build
        functools.update_wrapper(self, build)  # type: ignore[arg-type]

    @overload
    def __get__(self, obj: None, owner: type) -> endpoint[P, T]: ...
    @overload
    def __get__(self, obj: Resource[SyncMode], owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[AsyncMode], owner: type) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        return self if obj is None else _bind(self.build, obj, obj._client.execute)


class paged(Generic[P, T]):
    """Turn a method that builds a :class:`Pager` into an iterator (or async iterator)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Pager[T]]) -> None:
        self.build = build
        functools.update_wrapper(self, build)  # type: ignore[arg-type]

    @overload
    def __get__(self, obj: None, owner: type) -> paged[P, T]: ...
    @overload
    def __get__(self, obj: Resource[SyncMode], owner: type) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, obj: Resource[AsyncMode], owner: type) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        return self if obj is None else _bind(self.build, obj, obj._client.paginate)
