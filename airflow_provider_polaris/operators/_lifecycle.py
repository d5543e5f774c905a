"""Close the Polaris client an operator or sensor opened, in one place.

Every operator and sensor of the provider talks to Polaris through ``self.hook.get_client()``,
a client cached on the hook that holds a connection pool. :class:`ClosesPolarisClient` closes it
when the outermost of ``execute``, ``execute_complete``, ``poke`` or ``on_kill`` returns or
raises, including ``TaskDeferred`` (a deferred task keeps no socket open while the triggerer,
which has its own async client, waits). Subclasses need nothing: the methods a class defines are
wrapped when the class is created. Nested calls (``execute`` -> ``poke``, ``execute`` ->
``super().execute``) close once, at the outermost exit. The hook reopens a client on the next
``get_client()``, so ``on_kill`` after ``execute`` closed still works; ``on_kill`` closes only a
client it opened itself, so a kill arriving while another thread still uses the client (a
signal handler, a test) never closes it under that thread.

The same outermost exit applies the provider's one rule for permanent errors
(:func:`~airflow_provider_polaris.hooks.errors.fail_fast`): a 4xx answer (but 408/429), a
malformed connection or spec leaves ``execute``/``execute_complete``/``poke`` as an
``AirflowFailException`` naming the connection and the field to fix, so Airflow does not retry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

# The entry points Airflow calls on a task; each is where a client may be opened and must end.
_ENTRY_POINTS = ("execute", "execute_complete", "poke", "on_kill")
_DEPTH = "_polaris_client_depth"
_MARK = "_closes_polaris_client"

F = TypeVar("F", bound=Callable[..., Any])


def _client_open(obj: Any) -> bool:
    hook = obj.__dict__.get("hook")  # the ``hook`` cached_property, once used
    return bool(hook is not None and getattr(hook, "client_open", False))


def _closing(method: F, *, only_own: bool) -> F:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        depth = self.__dict__.get(_DEPTH, 0)
        had_client = only_own and _client_open(self)
        self.__dict__[_DEPTH] = depth + 1
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            if depth == 0 and not only_own:
                # The one rule for permanent errors (4xx, bad connection or spec): no retries.
                from airflow_provider_polaris.hooks.errors import fail_fast

                fail_fast(exc, self)
            raise
        finally:
            self.__dict__[_DEPTH] = depth
            if depth == 0 and not had_client:
                self.close_polaris_client()

    setattr(wrapper, _MARK, True)
    return wrapper  # type: ignore[return-value]


class ClosesPolarisClient:
    """Mixin for the provider's operators and sensors: close ``self.hook``'s client after each
    task entry point (see the module docstring). Put it before ``BaseOperator`` in the bases."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _ENTRY_POINTS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, _MARK, False):
                setattr(cls, name, _closing(method, only_own=name == "on_kill"))

    def close_polaris_client(self) -> None:
        """Close the hook's cached client if one was opened (never creates the hook)."""
        hook = self.__dict__.get("hook")  # the ``hook`` cached_property, when it was used
        if hook is None:
            return
        try:
            hook.close()
        except Exception as exc:  # closing must never mask the task's own result or error
            log = getattr(self, "log", None)
            if log is not None:
                log.debug("Closing the Polaris client failed: %s", exc)
