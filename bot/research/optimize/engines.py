"""Where a sweep's tasks run. Every engine yields Outcomes as tasks finish (any order; the
caller orders them by task index) and stops its workers when the caller stops reading.

- local: a process pool; each worker receives the Job and the Market once, when it starts.
  With one worker the tasks run in this process.
- ray: Ray tasks; the Job and the Market go into Ray's object store once (``ray.put``) and
  each Ray worker process fetches them on its first task and keeps them for the next ones.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import signal
import tempfile
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.research.optimize.tasks import Job, Outcome, Task, TaskError, Worker
from bot.sim.market import Market
from bot.strategy import registry

ENGINES = ("local", "ray")
Outcomes = Generator[Outcome, None, None]


class EngineError(Exception):
    """An engine that cannot start (ray missing, bad address): exit code 2."""


def run_tasks(
    engine: str, job: Job, market: Market, tasks: Sequence[Task], *, workers: int,
    scratch: Path, address: str | None = None,
) -> Outcomes:  # fmt: skip
    """The Outcomes of ``tasks`` as they finish; closing the iterator stops the workers."""
    if engine == "ray":
        return _ray(job, market, tasks, workers, address)
    if engine != "local":
        raise EngineError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    if workers == 1 or len(tasks) <= 1:
        return _here(job, market, tasks, scratch)
    return _pool(job, market, tasks, min(workers, len(tasks)), scratch)


def require(engine: str, address: str | None) -> None:
    """Refuse an engine that cannot run, before anything is loaded."""
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    if address and engine != "ray":
        raise EngineError("--address is for --engine ray")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise EngineError(_NO_RAY)


_NO_RAY = "--engine ray needs Ray: pip install 'ibbot[ray]' (or pip install 'ray>=2.9')"


# ---- local -------------------------------------------------------------------------------


def _here(job: Job, market: Market, tasks: Sequence[Task], scratch: Path) -> Outcomes:
    worker = Worker(job, market)
    with tempfile.TemporaryDirectory(prefix="worker-", dir=scratch) as mine:
        for task in tasks:
            yield worker.run(task, Path(mine))


_worker: tuple[Worker, Path] | None = None  # a pool process's own, set by _init


def _init(job: Job, market: Market, scratch: Path, modules: Sequence[str]) -> None:
    global _worker
    for name in modules:  # the strategies' own registrations (a test's, a notebook's too)
        importlib.import_module(name)
    # Ctrl-C reaches the whole process group: the parent alone decides, and terminates us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Under the caller's scratch, which it removes: a terminated worker cleans nothing up.
    _worker = Worker(job, market), Path(tempfile.mkdtemp(prefix="worker-", dir=scratch))


def _run(task: Task) -> Outcome:
    assert _worker is not None
    worker, mine = _worker
    return worker.run(task, mine)


def _pool(
    job: Job, market: Market, tasks: Sequence[Task], workers: int, scratch: Path
) -> Outcomes:
    # Workers come from a forkserver, never a fork of the caller: a fork copies the locks the
    # caller's threads hold at that instant (Arrow's pool, tqdm's monitor, a Ray client's), and
    # a worker then waits on one for ever. The server imports the backtester once.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([Worker.__module__])
    modules = sorted({registry.get(s.class_).__module__ for s in job.cfg.strategies})
    pool = ctx.Pool(workers, _init, (job, market, scratch, modules))
    try:
        yield from pool.imap_unordered(_run, tasks, chunksize=1)
    except BaseException:  # Ctrl-C, a failed task, or the caller stopped reading
        pool.terminate()  # the running backtests too: their scratch goes with the caller's
        raise
    else:
        pool.close()
    finally:
        pool.join()


# ---- ray ---------------------------------------------------------------------------------

_ray_workers: dict[str, Worker] = {}  # a Ray worker process's own, by the shared object's id


def _ray_task(shared: list[Any], task: Task) -> Outcome:
    # The ref travels inside a list so Ray does not resolve it per task: a worker process
    # fetches the Job and Market on its first task only.
    import ray

    ref = shared[0]
    worker = _ray_workers.get(ref.hex())
    if worker is None:
        job, market = ray.get(ref)
        _ray_workers.clear()  # an earlier sweep's market: let it go
        worker = _ray_workers[ref.hex()] = Worker(job, market)
    # A folder per task, removed after it: Ray ends its worker processes without a clean-up.
    with tempfile.TemporaryDirectory(prefix="ibbot-sweep-") as scratch:
        return worker.run(task, Path(scratch))


def _ray(
    job: Job, market: Market, tasks: Sequence[Task], workers: int, address: str | None
) -> Outcomes:
    try:
        import ray
    except ImportError:
        raise EngineError(_NO_RAY) from None
    started = _ray_init(ray, workers, address)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        shared = [ray.put((job, market))]
        pending = [remote.remote(shared, t) for t in tasks]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield _ray_get(ray, ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def session(engine: str, workers: int, address: str | None) -> Iterator[None]:
    """Ray started (or connected) once for several run_tasks calls, e.g. a walk-forward's
    in-sample and out-of-sample rounds; nothing to hold for the local engine."""
    if engine != "ray":
        yield
        return
    import ray

    started = _ray_init(ray, workers, address)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def _ray_get(ray: Any, ref: Any) -> Outcome:
    try:
        outcome: Outcome = ray.get(ref)
    except ray.exceptions.RayTaskError as e:  # the task's own error, without Ray's wrapping
        cause = getattr(e, "cause", None)
        raise TaskError(str(cause) if isinstance(cause, TaskError) else str(e)) from None
    return outcome


def _ray_init(ray: Any, workers: int, address: str | None) -> bool:
    """Connect (``address``) or start a local Ray instance; True when this call did it."""
    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as e:
        where = address or "a local instance"
        raise EngineError(f"--engine ray: cannot start Ray on {where}: {e}") from None
    return True
