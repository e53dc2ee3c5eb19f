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
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
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


def _frozen_fork_pool(n: int, initializer: Callable[..., None],
                      initargs: tuple) -> ProcessPoolExecutor:
    """Start a ``fork`` pool of ``n`` workers, the garbage collector frozen until its end.

    (:meth:`Workers.__enter__` says why; the pool's owner calls ``gc.unfreeze()`` after its
    ``shutdown``.)
    """
    gc.freeze()
    try:
        return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"),
                                   initializer=initializer, initargs=initargs)
    except BaseException:
        gc.unfreeze()
        raise


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
            self._pool = _frozen_fork_pool(self.n, _init, (self.state, self.n))
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
    """A local pool in which each worker keeps to its own stream of neighbouring tasks.

    :class:`Workers` hands each task to whichever worker is free, so two neighbouring tasks
    (which build the same cached cells) often land on different workers and each worker
    builds nearly every cell of the city. Here the work is cut into ``n`` streams (one per
    worker: contiguous parts of a spatial order), and worker ``w`` works through stream ``w``
    in order, so that its caches serve its own part of the city. When its stream has nothing
    left, it takes the *last* open task of the stream with the most left (work stealing), so
    an uneven city leaves no core idle and the two rarely meet in a neighbourhood.

    The streams come in rounds (:meth:`run`): round ``k`` holds the ``k``-th slice of every
    stream. Every worker of the pool is handed claims, in order: a claim of round ``k`` takes
    one open task of that round (its worker's own stream first) under a lock shared by the
    workers, and runs it. Claims of at most two rounds are out at a time, so no more than two
    rounds' results are held (a city's isochrones come back round by round, like
    :class:`Workers`' chunks). One ``fork`` pool, started before any thread of its own, as
    :class:`Workers`' is; local processes only (use :class:`Workers` for a Dask cluster).

    Parameters
    ----------
    state
        What every task needs (inherited by ``fork``, never pickled).
    n
        Worker processes, at least 2 (:func:`worker_count`).
    rounds
        The most rounds :meth:`run` will be given (the size of the shared counters).
    """

    def __init__(self, state: Any, n: int, rounds: int):
        if n < 2:
            msg = f"StreamWorkers needs at least 2 workers, got {n}"
            raise ValueError(msg)
        self.state, self.n, self.rounds = state, n, max(1, rounds)
        self._pool: ProcessPoolExecutor | None = None
        #: who ran each (round, stream, task) of the last :meth:`run`: the worker's number
        self.ran_by: dict[tuple[int, int, int], int] = {}

    def __enter__(self) -> StreamWorkers:
        ctx = multiprocessing.get_context("fork")
        # per round and stream: the next open task from the front, and the end of the open ones
        self._lock = ctx.Lock()
        self._lo = ctx.RawArray("i", self.rounds * self.n)
        self._hi = ctx.RawArray("i", self.rounds * self.n)
        numbers = ctx.RawValue("i", 0)
        self._pool = _frozen_fork_pool(
            self.n, _init_stream, (self.state, self.n, self._lock, numbers, self._lo, self._hi))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            gc.unfreeze()

    def run(self, fn: Callable[[Any, Any], Any],
            rounds: Sequence[Sequence[Sequence[Any]]]) -> Iterator[list[Any]]:
        """Yield, round by round, ``fn(state, task)`` of every task of the round.

        ``rounds[k][s]`` is the list of tasks of stream ``s`` in round ``k`` (``n`` streams).
        Each round's results come as one list: stream 0's tasks in order, then stream 1's, and
        so on, whichever worker ran them. ``fn`` must be a module-level function.
        """
        if self._pool is None:
            msg = "StreamWorkers.run outside its with block"
            raise RuntimeError(msg)
        if len(rounds) > self.rounds or any(len(r) != self.n for r in rounds):
            msg = f"at most {self.rounds} rounds of {self.n} streams each"
            raise ValueError(msg)
        pool = self._pool
        self.ran_by = {}

        def hand_out(k: int) -> list[Future]:
            with self._lock:
                for s in range(self.n):
                    self._lo[k * self.n + s] = 0
                    self._hi[k * self.n + s] = len(rounds[k][s])
            n_tasks = sum(len(t) for t in rounds[k])
            return [pool.submit(_claim, fn, k, rounds[k]) for _ in range(n_tasks)]

        out = [hand_out(k) for k in range(min(2, len(rounds)))]
        for k in range(len(rounds)):
            got = {}
            for future in out[k]:
                w, s, j, value = future.result()
                got[s, j] = value
                self.ran_by[k, s, j] = w
            out[k] = []
            if k + 2 < len(rounds):
                out.append(hand_out(k + 2))
            yield [got[s, j] for s in range(self.n) for j in range(len(rounds[k][s]))]


#: A stream pool's worker: its number, the pool's lock and open-task counters, the streams.
_STREAM: Any = None


def _init_stream(state: Any, n: int, lock: Any, numbers: Any, lo: Any, hi: Any) -> None:
    """Set up a :class:`StreamWorkers` worker: :func:`_init`, and its number (0 … n-1)."""
    global _STREAM
    _init(state, n)
    with lock:
        w = numbers.value
        numbers.value += 1
    _STREAM = (w, lock, lo, hi, n)


def _claim(fn: Callable[[Any, Any], Any], k: int,
           tasks: Sequence[Sequence[Any]]) -> tuple[int, int, int, Any]:
    """Take one open task of round ``k`` (this worker's stream first) and run it."""
    w, lock, lo, hi, n = _STREAM
    at = k * n
    with lock:
        if lo[at + w] < hi[at + w]:
            s, j = w, lo[at + w]
            lo[at + w] += 1
        else:  # the back of the stream with the most left
            s = max(range(n), key=lambda t: hi[at + t] - lo[at + t])
            hi[at + s] -= 1
            j = hi[at + s]
    return w, s, j, fn(_STATE, tasks[s][j])


class Beside:
    """Run ``fn()`` in a forked child process while this process goes on; :meth:`wait` joins.

    For work on one core beside the run's own: the map written beside the GeoPackage
    (:func:`livingcircle.results.write_result_folder`), the basemap drawn beside the access and
    the uncovered areas measured beside the clusters (:func:`livingcircle.pipeline.run`). The
    child inherits the data (copy-on-write, the garbage collector frozen as in
    :class:`Workers`); :meth:`wait` returns ``fn``'s value, pickled back (the child holds its
    memory until it is read). An exception the child raised is raised again by :meth:`wait`,
    the same type and message, the child's frames in a note (exceptions pickle without their
    traceback; one that does not pickle comes back as a ``RuntimeError`` naming it), after the
    warnings the child raised. A child that dies without a word (killed, out of memory) is a
    ``RuntimeError`` with its exit code.

    The child is a plain process, not a daemon, so that what it runs may start a pool of its
    own (``Result.write`` has the map's child draw on one core instead: the other is the
    GeoPackage's). Only where processes fork (:func:`beside_pays`); use as a context
    manager, so that a child left running by an error of this process is stopped.

    Parameters
    ----------
    fn
        What the child runs (a closure is fine: it is inherited, never pickled).
    what
        Names the work in the errors (``"writing map.html"``).
    """

    def __init__(self, fn: Callable[[], Any], what: str):
        self.what = what
        ctx = multiprocessing.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        gc.freeze()
        try:
            self._proc = ctx.Process(target=_beside_child, args=(fn, send), daemon=False)
            self._proc.start()
        except BaseException:
            gc.unfreeze()
            raise
        send.close()  # the child's end: the pipe reads EOF when the child is gone
        self._done = False

    def __enter__(self) -> Beside:
        return self

    def __exit__(self, *exc) -> None:
        if not self._done:  # this process failed first: the child's work is not wanted
            self._proc.terminate()
            self._finish()

    def _finish(self) -> None:
        self._proc.join()
        self._recv.close()
        self._done = True
        gc.unfreeze()

    def wait(self) -> Any:
        """Wait for the child; return ``fn``'s value, or raise again what it raised.

        The warnings the child raised are raised again first, in this process (under its
        filters: a warning turned into an error here stops the run here, as it would have).
        """
        try:
            ok, got, warned = self._recv.recv()
        except EOFError:
            ok, got, warned = False, None, []
        except Exception as exc:  # an exception that pickled but does not unpickle
            ok, got, warned = False, RuntimeError(f"{self.what} failed: {exc!r}"), []
        self._finish()
        for message, filename, lineno in warned:  # as if raised here, under this one's filters
            warnings.warn_explicit(message, type(message), filename, lineno)
        if ok:
            return got
        if got is None:
            msg = (f"{self.what} stopped without a result (exit code {self._proc.exitcode}; "
                   "killed, or out of memory?)")
            raise RuntimeError(msg)
        raise got


def beside_pays(communities: int) -> bool:
    """Whether a run of ``communities`` does its one-core side work in a :class:`Beside` child.

    From :data:`livingcircle.settings.process_pool_min_communities` communities on (as the
    per-community pools), where the run may use more than one process: :func:`worker_count`
    is 1 where processes cannot fork, inside a daemon process and in a task run one per core.
    """
    from . import settings

    return communities >= settings.process_pool_min_communities and worker_count(None) > 1


def _beside_child(fn: Callable[[], Any], send: Any) -> None:
    """Run ``fn`` as a :class:`Beside` child; send back (True, value) or (False, exception).

    With the warnings it raised, for the parent to raise again (:meth:`Beside.wait`).
    """
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            value = fn()
    except BaseException as exc:  # every way out is reported, then the child ends
        # the child's own frames, for `livingcircle -vv` (a note is not part of the message)
        exc.add_note("in the child process:\n" + "".join(traceback.format_tb(exc.__traceback__)))
        try:
            send.send((False, exc, _plain_warnings(caught)))
        except Exception:  # the exception does not pickle
            send.send((False, RuntimeError(f"{type(exc).__name__}: {exc}"), []))
    else:
        try:
            send.send((True, value, _plain_warnings(caught)))
        except Exception as exc:  # a value that does not pickle
            send.send((False, RuntimeError(f"its value does not pickle: {exc!r}"), []))
    finally:
        send.close()


def _plain_warnings(caught: list) -> list[tuple[Warning, str, int]]:
    """Return the caught warnings as (warning, file, line): the part of each that pickles."""
    return [(w.message, w.filename, w.lineno) for w in caught]
