"""Which scheduler Dask computes with: Dask's own choice, or the one :func:`use_scheduler` names.

A ``distributed.Client`` named for a block is made current for it
(``client.as_current()``), never put into Dask's configuration, which
distributed hands to every worker process it starts; a local scheduler name
sets Dask's local scheduler. Inside the block every wait on the Client is
watched (:class:`~portable_dnn.backend._dask.watchdog.Watchdog`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import os
from collections.abc import Iterator
from typing import Any

import dask

from .watchdog import Watch, Watchdog

_LOCAL = ("threads", "threading", "synchronous", "sync", "single-threaded")

# Watch is frozen: the default is never changed in place.
_WATCH: contextvars.ContextVar[Watch] = contextvars.ContextVar(
    "portable_dnn_dask_watch",
    default=Watch(),  # noqa: B039
)


def current_watch() -> Watch:
    """The watch settings in force (the innermost :func:`use_scheduler`'s, else the defaults)."""
    return _WATCH.get()


_CLIENT: contextvars.ContextVar[Any] = contextvars.ContextVar("portable_dnn_dask_client", default=None)


class _WatchedScheduler:
    """Dask's scheduler inside :func:`use_scheduler` with a Client: the Client's, with every wait watched.

    What Dask computes in the block (``dask.compute``, ``bool(array)``, the
    checks of the data) is awaited by a :class:`Watchdog`, so a lost
    scheduler, a cluster without workers or a stalled computation ends in a
    :class:`ClusterError`, not a hang. It holds nothing: the Client is this
    thread's (a context variable); elsewhere (another thread, a worker process,
    which receive Dask's configuration) it defers to distributed's own choice.
    """

    @staticmethod
    def _client() -> Any:
        client = _CLIENT.get()
        if client is None:
            from distributed import get_client

            client = get_client()
        return client

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        client = _CLIENT.get()
        if client is None:
            return self._client().get(dsk, keys, **kwargs)
        futures = client.get(dsk, keys, sync=False, **kwargs)
        return Watchdog(client, current_watch()).fetch(futures)

    def persist(self, collections: Any, **kwargs: Any) -> Any:
        return self._client().persist(collections, **kwargs)


_WATCHED = _WatchedScheduler()


def current_client() -> Any:
    """The ``distributed.Client`` Dask computes with now, or None for a local scheduler."""
    try:
        from distributed import Client
    except ImportError:
        return None
    try:
        scheduler = dask.base.get_scheduler()
        if isinstance(scheduler, _WatchedScheduler):
            return scheduler._client()
    except (ValueError, RuntimeError):  # a distributed scheduler named, with no Client in this thread
        return None
    owner = getattr(scheduler, "__self__", None)
    return owner if isinstance(owner, Client) else None


def parallelism() -> int:
    """Worker threads of the current scheduler."""
    client = current_client()
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


@contextlib.contextmanager
def use_scheduler(
    scheduler: Any = None,
    func: str = "use_scheduler",
    *,
    step_timeout: float | None = None,
    worker_timeout: float | None = None,
    lineage: int | None = None,
    quiet: bool = False,
) -> Iterator[Any]:
    """Compute with ``scheduler`` inside the block; yield the ``Client`` or None.

    ``scheduler``: None (Dask's default: the current ``Client`` if there is one,
    else local threads), a ``distributed.Client``, a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (a Client is connected for the block and closed
    after it), or a local scheduler name (``"threads"``, ``"synchronous"``).
    The other arguments, where given, replace the :class:`Watch` settings for
    the block (checked by the public :func:`portable_dnn.streaming.use_scheduler`); ``quiet``
    leaves distributed's notices of lost connections unlogged inside it.
    """
    given: dict[str, Any] = {
        "step_timeout": step_timeout,
        "worker_timeout": worker_timeout,
        "lineage": lineage,
    }
    watch = dataclasses.replace(_WATCH.get(), **{k: v for k, v in given.items() if v is not None})
    token = _WATCH.set(watch)
    logger = logging.getLogger("distributed")
    level = logger.level
    if quiet:
        logger.setLevel(max(logging.ERROR, logger.getEffectiveLevel()))
    try:
        with _selected(scheduler, func) as client:
            yield client
    finally:
        logger.setLevel(level)
        _WATCH.reset(token)


@contextlib.contextmanager
def _selected(scheduler: Any, func: str) -> Iterator[Any]:
    if scheduler is None:
        yield current_client()
        return
    if isinstance(scheduler, str):
        name = scheduler.strip()
        if name in _LOCAL:
            with dask.config.set(scheduler=name):
                yield None
            return
        if "://" not in name and ":" not in name:
            raise ValueError(
                f"{func}: scheduler must be a distributed Client, an address such as "
                f"'tcp://HOST:8786', or one of {', '.join(_LOCAL)}; got {scheduler!r}"
            )
        from distributed import Client

        client = Client(name, set_as_default=False, timeout="10s")
        try:
            with _current(client):
                yield client
        finally:
            _close(client)
        return
    if not (
        hasattr(scheduler, "get") and hasattr(scheduler, "nthreads") and hasattr(scheduler, "as_current")
    ):
        raise TypeError(
            f"{func}: scheduler must be a distributed Client, an address or a scheduler name, "
            f"got {type(scheduler).__name__}"
        )
    with _current(scheduler):
        yield scheduler


@contextlib.contextmanager
def _current(client: Any) -> Iterator[None]:
    """``client`` computes in this thread for the block, watched (:class:`_WatchedScheduler`).

    Not ``dask.config.set(scheduler=client)``: Dask's configuration travels to
    every worker process a nanny starts, and a Client cannot, so no lost
    worker could be restarted; the configuration holds a stateless object.
    """
    token = _CLIENT.set(client)
    try:
        with client.as_current(), dask.config.set(scheduler=_WATCHED):
            yield
    finally:
        _CLIENT.reset(token)


def _close(client: Any) -> None:
    """Closes a Client this module opened, in bounded time; where its scheduler is gone, without
    the traceback distributed logs when its attempts to reconnect are cut short."""
    import logging

    lost = getattr(client, "scheduler_comm", None) is None
    logger = logging.getLogger("distributed.client")
    level = logger.level
    if lost:
        logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
    finally:
        logger.setLevel(level)


def persist(*arrays: Any, serial: bool = False) -> tuple[Any, ...]:
    """``arrays`` computed and kept (on the workers of a cluster): their graphs become one task per chunk.

    On a distributed cluster this returns at once, with the work queued.
    ``serial=True`` runs a local scheduler's tasks in this thread: for a graph
    with nothing to run in parallel, the thread pool's hand-offs cost more than the tasks.
    """
    client = current_client()
    if client is not None:  # explicitly: dask.persist keeps futures only on the default Client
        return tuple(client.persist(list(arrays)))
    return tuple(dask.persist(*arrays, scheduler="synchronous" if serial else None))


def wait(*arrays: Any) -> None:
    """Block until persisted ``arrays`` are computed (they already are on a local scheduler).

    On a cluster the wait is watched (:class:`Watchdog`): it ends in a :class:`ClusterError`, not a hang.
    """
    client = current_client()
    if client is not None:
        from distributed import futures_of

        Watchdog(client, current_watch()).wait(futures_of(list(arrays)))


def compute(*arrays: Any) -> tuple[Any, ...]:
    """``arrays`` as host values, in one round trip (watched on a cluster, as :func:`wait`)."""
    client = current_client()
    if client is None:
        return tuple(dask.compute(*arrays))
    return tuple(Watchdog(client, current_watch()).fetch(client.compute(list(arrays))))
