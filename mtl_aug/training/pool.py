"""LOSO folds in worker processes: one fold per process, the CPU threads split between them,
each fold's output in its run folder's train.log, the workers stopped with their parent."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

from ..config import Config
from ..console import to_console
from ..errors import ConfigError, DataError
from .runs import run_dir
from .train import train_fold

log = logging.getLogger(__name__)


def run_parallel(cfg: Config, runs: list[tuple[int, str]], jobs: int) -> None:
    """Folds in `jobs` worker processes; each fold's output goes to train.log in its run dir and
    one line per fold is printed when it starts and ends. A failure cancels the folds not started;
    the ones running finish (their results kept) before the error is raised."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    import torch

    if torch.cuda.device_count() > 1 and str(cfg.train.devices) != "1":
        raise ConfigError(
            "--jobs > 1 on a machine with several GPUs needs train.devices=1 (a fold per "
            "process and GPU); or spread folds with --fold-index"
        )
    cpus = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )  # macOS: no affinity
    threads = max(1, cpus // jobs)
    log.info(
        f"{len(runs)} folds, {jobs} at a time, {threads} CPU thread(s) each; "
        f"per-fold logs: {run_dir(cfg.replace(seed='<N>'), '<fold>')}/train.log"
    )
    with ProcessPoolExecutor(
        jobs,
        mp_context=mp.get_context("spawn"),
        initializer=_worker,
        initargs=(os.getpid(), logging.getLogger("mtl_aug").getEffectiveLevel()),
    ) as pool:
        futures = {
            pool.submit(fold_job, cfg.replace(seed=seed), s, threads): (seed, s) for seed, s in runs
        }
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in done:
            if (exc := f.exception()) is not None:
                pool.shutdown(wait=False, cancel_futures=True)
                seed, s = futures[f]
                if isinstance(
                    exc, (ConfigError, DataError)
                ):  # a clear message (a fold in use, say)
                    raise type(exc)(f"fold {s} (seed {seed}): {exc}") from None
                raise RuntimeError(
                    f"fold {s} (seed {seed}) failed; "
                    f"see {run_dir(cfg.replace(seed=seed), s)}/train.log"
                ) from exc
        for f in futures:
            f.result()


def fold_job(cfg: Config, speaker: str, threads: int) -> dict:
    """One fold in a worker process, its output appended to the run dir's train.log."""
    import torch

    torch.set_num_threads(threads)
    out = run_dir(cfg, speaker)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{cfg.corpus} / {cfg.variant} / seed {cfg.seed} / fold {speaker}"
    log.info(f"--- started  {tag}")
    t0 = time.time()
    with open(out / "train.log", "a") as file, _output_to(file):
        r = train_fold(cfg, speaker)
    test = f"test UAR {r['uar']:.4f}, " if "uar" in r else ""
    log.info(f"--- finished {tag}: {test}{(time.time() - t0) / 60:.1f} min")
    return r


def _worker(parent: int, level: int, interval: float = 2.0) -> None:
    """A worker process starts: the parent's console logging (`level`), and a watcher that stops
    the worker when `parent` (the loso process) dies. Ctrl-C reaches the workers anyway, but a
    `kill` of the parent alone would leave them training, holding their folds' locks. The fold
    resumes from its last checkpoint when the LOSO is started again."""
    to_console(level)

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


@contextlib.contextmanager
def _output_to(log):
    """Send this process's stdout and stderr to `log` at the file-descriptor level, so that the
    logging handlers and C libraries that hold the original streams are redirected too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
