"""The per-community stages over several processes: a local pool, or a Dask cluster.

Threads (:func:`livingcircle.routing.parallel_each`) share one process's caches, but the Python
between two GEOS calls holds the GIL, which they share (run 6 in ``benchmarks/CITY_SCALE.md``:
254 s wall for 192 CPU s in the isochrone stage on 2 cores, on a loaded machine). Here the work
goes to processes instead: each task is a list of neighbouring communities (or coverage tiles),
each worker keeps the state it was given (the split graph, the street geometries) and builds
its own caches from it, and the results come back in the order of the tasks. The polygons
cross the process boundary as WKB (shapely's pickling), which keeps every coordinate bit for
bit, so the rows are the same as on one process (tested).

* locally: a ``fork`` process pool (Linux/macOS): the workers inherit the state without copying
  it (copy-on-write pages); :class:`StreamWorkers` keeps each worker on its own part of the
  city (the isochrones), :class:`Workers` hands a task to whichever worker is free;
* ``scheduler`` (a Dask scheduler's address or a ``distributed.Client``): the state is sent to
  every worker once (``Client.scatter(broadcast=True)``) and the tasks run there.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from ._errors import InputError

logger = logging.getLogger(__name__)

#: Seconds to wait for a Dask scheduler to answer before the run stops with an error (Dask's
#: own default, ``distributed.comm.timeouts.connect``, is 30 s).
SCHEDULER_TIMEOUT_S = 30

#: The state of the pool this worker process belongs to (set by :func:`_init`).
_STATE: Any = None


def _init(state: Any, share: int = 1) -> None:
    """Set up a local pool's worker process: its state, and its part of the cache budget.

    The isochrone makers' caches (:data:`livingcircle.settings.isochrone_cache_vertices`) are a
    budget for the run on this machine, not for each process: the ``share`` workers of a local
    pool keep ``1/share`` of it each, so that the pool's caches together hold no more than one
    process would. With a full budget each, the 1M-node run and its 2 workers peaked at 5.4 GB
    in the isochrone stage (``benchmarks/CITY_SCALE.md``, "The 1M-node city again").
    """
    global _STATE
    _STATE = state
    if share > 1:
        from . import settings  # this process's own copy (forked): the run's is unchanged

        settings.isochrone_cache_vertices = max(1, settings.isochrone_cache_vertices // share)


def _call(fn: Callable[[Any, Any], Any], task: Any) -> Any:
    return fn(_STATE, task)


def worker_count(workers: int | None) -> int:
    """Return the number of worker processes: ``workers``, or every core this process may use.

    Parameters
    ----------
    workers
        A number (1: no pool, everything in this process) or None for
        :data:`livingcircle.settings.workers`, and when that is None too, the cores this
        process may run on (``os.sched_getaffinity``). Always 1 where processes cannot be
        forked (Windows), inside a daemon process (a Dask or pool worker) and in a task that
        runs one per core
        (:func:`livingcircle.routing.threads_here` with 1, as ``livingcircle batch`` does).

    Returns
    -------
    int
        At least 1.
    """
    from . import settings
    from .routing import threads_set_here, usable_cores

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # Windows: no fork; the threads of one process
    if multiprocessing.current_process().daemon or threads_set_here() == 1:
        # a Dask worker's task (``livingcircle batch``: one area per core, threads_here(1)),
        # or a pool's own worker: no processes of its own (a daemon may not have children)
        return 1
    n = workers if workers is not None else settings.workers
    return max(1, int(n if n is not None else usable_cores()))


def check_scheduler(scheduler: str) -> None:
    """Stop with a clear error when no Dask scheduler answers at ``scheduler`` (before a run).

    Parameters
    ----------
    scheduler
        The address given (``tcp://host:8786``).

    Raises
    ------
    livingcircle._errors.InputError
        When it cannot be reached within :data:`SCHEDULER_TIMEOUT_S` seconds.
    """
    with Workers(None, scheduler=scheduler, send_state=False):
        pass


class Workers:
    """Run ``fn(state, task)`` for many tasks on worker processes or a Dask cluster.

    Use as a context manager; :meth:`submit` returns one future per task (``.result()`` gives
    ``fn``'s value), so that the caller can hand out the next tasks while it reads the last ones.

    Parameters
    ----------
    state
        What every task needs (picklable for Dask; a local pool inherits it by ``fork``).
    workers
        Local worker processes (see :func:`worker_count`).
    scheduler
        A Dask scheduler's address (``tcp://host:8786``) or a ``distributed.Client``: the tasks
        run on that cluster's workers instead of a local pool.
    """

    def __init__(self, state: Any, *, workers: int | None = None, scheduler: Any = None,
                 send_state: bool = True):
        self.state = state
        self.send_state = send_state
        self.scheduler = scheduler
        self.n = worker_count(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None
        self._own_client = False
        self._state_future: Any = None

    def __enter__(self) -> Workers:
        if self.scheduler is not None:
            from distributed import Client

            if isinstance(self.scheduler, Client):
                self._client = self.scheduler
            else:
                try:
                    self._client = Client(self.scheduler, timeout=SCHEDULER_TIMEOUT_S)
                except (OSError, TimeoutError, ValueError) as err:
                    msg = (f"cannot reach the Dask scheduler {self.scheduler!r} ({err}); start "
                           "it (`dask scheduler`, and `dask worker <address>` on each machine) "
                           "or leave --scheduler out to use this machine's cores")
                    raise InputError(msg) from None
                self._own_client = True
            if self.send_state:
                self._state_future = self._client.scatter(self.state, broadcast=True,
                                                           hash=False)
            logger.info("per-community tasks on the Dask cluster at %s",
                        self._client.scheduler.address)
        elif self.n > 1:
            # Keep the run's objects out of the workers' garbage collections: a collection
            # writes to the header of every object it visits, which copies the page holding it
            # into the worker (copy-on-write), so each worker ended up with its own copy of
            # the run's networkx graph, frames and tables. Frozen, they stay shared. The
            # city centre's isochrone stage, run and workers together: 1,976 → 1,756 MB (Pss,
            # ``benchmarks/CITY_SCALE.md`` run 18), same time. Unfrozen when the pool ends.
            gc.freeze()
            ctx = multiprocessing.get_context("fork")
            try:
                self._pool = ProcessPoolExecutor(self.n, mp_context=ctx, initializer=_init,
                                                 initargs=(self.state, self.n))
            except BaseException:
                gc.unfreeze()
                raise
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()  # the run's own collections see its objects again
        if self._client is not None and self._own_client:
            self._client.close()

    def submit(self, fn: Callable[[Any, Any], Any], tasks: Sequence[Any]) -> list:
        """Start ``fn(state, task)`` for every task; return their futures in the same order.

        ``fn`` must be a module-level function (it is sent by name). Without a pool or cluster
        (one worker) the tasks run here, one by one, when their result is asked for.
        """
        if self._client is not None:
            return self._client.map(fn, [self._state_future] * len(tasks), list(tasks),
                                    pure=False)
        if self._pool is not None:
            return [self._pool.submit(_call, fn, t) for t in tasks]
        return [_Later(fn, self.state, t) for t in tasks]


class _Later:
    """A task run in this process when its result is asked for (one worker)."""

    def __init__(self, fn: Callable[[Any, Any], Any], state: Any, task: Any):
        self.fn, self.state, self.task = fn, state, task

    def result(self) -> Any:
        return self.fn(self.state, self.task)


class StreamWorkers:
    """One local worker process per stream of neighbouring tasks, taking over at the ends.

    :class:`Workers` hands each task to whichever worker is free, so two neighbouring tasks
    (which build the same cached cells) often land on different workers and each worker
    builds nearly every cell of the city. Here the work is cut into ``n`` streams (one per
    worker: contiguous parts of a spatial order), and worker ``w`` works through stream ``w``
    in order, so that its caches serve its own part of the city. When its stream has nothing
    left that may start, it takes the *last* open task of the stream with the most left (work
    stealing), so an uneven city leaves no core idle and the two rarely meet in a
    neighbourhood.

    The streams come in rounds (:meth:`run`): round ``k`` holds the ``k``-th slice of every
    stream, and tasks of round ``k + 1`` may start only while round ``k`` is being finished,
    so that no more than two rounds' results are held at once (a city's isochrones come back
    round by round, like :class:`Workers`' chunks). Local processes only (each forked from
    this one, inheriting ``state``); use :class:`Workers` for a Dask cluster.

    Parameters
    ----------
    state
        What every task needs (inherited by ``fork``, never pickled).
    n
        Worker processes, at least 2 (:func:`worker_count`).
    depth
        Tasks queued per worker: 2, so that a worker has its next task while the caller is
        busy with the last round's results.
    """

    def __init__(self, state: Any, n: int, *, depth: int = 2):
        if n < 2:
            msg = f"StreamWorkers needs at least 2 workers, got {n}"
            raise ValueError(msg)
        self.state, self.n, self.depth = state, n, depth
        self._pools: list[ProcessPoolExecutor] = []
        #: who ran each (round, stream, task) of the last :meth:`run`: the worker's index
        self.ran_by: dict[tuple[int, int, int], int] = {}

    def __enter__(self) -> StreamWorkers:
        gc.freeze()  # see Workers.__enter__: the run's objects stay shared with the workers
        ctx = multiprocessing.get_context("fork")
        try:
            for _ in range(self.n):
                self._pools.append(ProcessPoolExecutor(1, mp_context=ctx, initializer=_init,
                                                       initargs=(self.state, self.n)))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools = []
        gc.unfreeze()

    def run(self, fn: Callable[[Any, Any], Any],
            rounds: Sequence[Sequence[Sequence[Any]]]) -> Iterator[list[Any]]:
        """Yield, round by round, ``fn(state, task)`` of every task of the round.

        ``rounds[k][s]`` is the list of tasks of stream ``s`` in round ``k`` (``n`` streams).
        Each round's results come as one list: stream 0's tasks in order, then stream 1's, and
        so on, whichever worker ran them. ``fn`` must be a module-level function.
        """
        if any(len(r) != self.n for r in rounds):
            msg = f"every round needs {self.n} streams"
            raise ValueError(msg)
        # per round and stream: the next task from the front, the end of what is left
        lo = [[0] * self.n for _ in rounds]
        hi = [[len(s) for s in r] for r in rounds]
        done: dict[int, dict[tuple[int, int], Any]] = {}
        flying: dict[Future, tuple[int, int, int, int]] = {}
        busy = [0] * self.n
        self.ran_by = {}

        def take(w: int, first: int, last: int) -> tuple[int, int, int] | None:
            for k in range(first, last + 1):  # its own stream, in order
                if lo[k][w] < hi[k][w]:
                    lo[k][w] += 1
                    return k, w, lo[k][w] - 1
            for k in range(first, last + 1):  # the back of the stream with the most left
                s = max(range(self.n), key=lambda s: hi[k][s] - lo[k][s])
                if lo[k][s] < hi[k][s]:
                    hi[k][s] -= 1
                    return k, s, hi[k][s]
            return None

        def hand_out(first: int) -> None:
            last = min(first + 1, len(rounds) - 1)  # this round, and the next one to start
            for w in range(self.n):
                while busy[w] < self.depth:
                    got = take(w, first, last)
                    if got is None:
                        break
                    k, s, j = got
                    future = self._pools[w].submit(_call, fn, rounds[k][s][j])
                    flying[future] = (w, k, s, j)
                    busy[w] += 1

        for first in range(len(rounds)):
            want = sum(len(s) for s in rounds[first])
            got_here = done.setdefault(first, {})
            hand_out(first)
            while len(got_here) < want:
                finished, _ = wait(list(flying), return_when=FIRST_COMPLETED)
                for future in finished:
                    w, k, s, j = flying.pop(future)
                    busy[w] -= 1
                    done.setdefault(k, {})[s, j] = future.result()
                    self.ran_by[k, s, j] = w
                hand_out(first)
            yield [got_here[s, j] for s in range(self.n) for j in range(len(rounds[first][s]))]
            del done[first]
