"""Leave-one-speaker-out over every fold and seed, resumable fold by fold, summarised once
every fold has finished."""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import pandas as pd

from .data import load_labelled
from .errors import ConfigError, DataError
from .folds import speakers
from .report import summarise_loso
from .train import check_same_config, run_dir, train_fold


def loso_results_dir(cfg: dict) -> Path:
    return Path(cfg["results_dir"]) / cfg["corpus"] / cfg["variant"]


def run_loso(cfg: dict, seeds: list[int], fold_index: int | None = None, jobs: int = 1) -> Path | None:
    """Train and test every fold for every seed (finished folds are skipped). With `fold_index`
    only that fold runs (for spreading folds over GPUs or machines); with `jobs` > 1 that many
    folds train at once in separate processes, the CPU threads split between them. Writes the
    summary once all folds of all seeds exist; returns its folder, or None while folds are missing."""
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")
    df, names, _ = load_labelled(cfg)
    spk = speakers(df)
    todo = spk if fold_index is None else [spk[_check_index(fold_index, spk)]]
    runs = [(seed, s) for seed in seeds for s in todo]
    # finished folds are skipped here, before train_fold would decode every utterance for them
    # (a finished fold of another config is still refused)
    left = []
    for seed, s in runs:
        d = run_dir(dict(cfg, seed=seed), s)
        check_same_config(d, dict(cfg, seed=seed))
        if not (d / "results.json").is_file():
            left.append((seed, s))
    if len(left) < len(runs):
        print(f"{len(runs) - len(left)} of {len(runs)} folds finished earlier, not re-run")
    if jobs > 1 and left:
        _run_parallel(cfg, left, jobs)
    elif jobs == 1:
        for seed, s in left:
            print(f"--- {cfg['corpus']} / {cfg['variant']} / seed {seed} / fold {s} ({spk.index(s) + 1} of {len(spk)})")
            train_fold(dict(cfg, seed=seed), s)
    missing = [(seed, s) for seed in seeds for s in spk
               if not (run_dir(dict(cfg, seed=seed), s) / "results.json").is_file()]
    if missing:
        print(f"{len(missing)} of {len(seeds) * len(spk)} folds not finished yet "
              f"(e.g. seed {missing[0][0]}, fold {missing[0][1]}); the summary is written once all are done")
        return None
    return summarise(cfg, seeds, spk, names)


def _run_parallel(cfg: dict, runs: list[tuple[int, str]], jobs: int) -> None:
    """Folds in `jobs` worker processes; each fold's output goes to train.log in its run dir and
    one line per fold is printed when it starts and ends. A failure cancels the folds not started;
    the ones running finish (their results kept) before the error is raised."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
    import torch
    if torch.cuda.device_count() > 1 and str(cfg["train"]["devices"]) != "1":
        raise ConfigError("--jobs > 1 on a machine with several GPUs needs train.devices=1 (a fold per "
                          "process and GPU); or spread folds with --fold-index")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # macOS: no affinity
    threads = max(1, cpus // jobs)
    print(f"{len(runs)} folds, {jobs} at a time, {threads} CPU thread(s) each; "
          f"per-fold logs: {run_dir(dict(cfg, seed='<N>'), '<fold>')}/train.log")
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(_fold_job, dict(cfg, seed=seed), s, threads): (seed, s) for seed, s in runs}
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in done:
            if (exc := f.exception()) is not None:
                pool.shutdown(wait=False, cancel_futures=True)
                seed, s = futures[f]
                if isinstance(exc, (ConfigError, DataError)):   # a clear message (a fold in use, say)
                    raise type(exc)(f"fold {s} (seed {seed}): {exc}") from None
                raise RuntimeError(f"fold {s} (seed {seed}) failed; see {run_dir(dict(cfg, seed=seed), s)}/train.log") \
                    from exc
        for f in futures:
            f.result()


def _fold_job(cfg: dict, speaker: str, threads: int) -> dict:
    """One fold in a worker process, its output appended to the run dir's train.log."""
    import torch
    torch.set_num_threads(threads)
    out = run_dir(cfg, speaker)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{cfg['corpus']} / {cfg['variant']} / seed {cfg['seed']} / fold {speaker}"
    print(f"--- started  {tag}", flush=True)
    t0 = time.time()
    with open(out / "train.log", "a") as log, _output_to(log):
        r = train_fold(cfg, speaker)
    test = f"test UAR {r['uar']:.4f}, " if "uar" in r else ""
    print(f"--- finished {tag}: {test}{(time.time() - t0) / 60:.1f} min", flush=True)
    return r


def _exit_with_parent(parent: int, interval: float = 2.0) -> None:
    """Stop this worker when `parent` (the loso process) dies. Ctrl-C reaches the workers
    anyway, but a `kill` of the parent alone would leave them training, holding their folds'
    locks. The fold resumes from its last checkpoint when the LOSO is started again."""
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
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def _check_index(i: int, spk: list[str]) -> int:
    if not 0 <= i < len(spk):
        raise ConfigError(f"fold index {i} out of range: there are {len(spk)} folds (0..{len(spk) - 1})")
    return i


def summarise(cfg: dict, seeds: list[int], spk: list[str], names: list[str]) -> Path:
    import json
    rows, preds = [], []
    for seed in seeds:
        for s in spk:
            d = run_dir(dict(cfg, seed=seed), s)
            r = json.loads((d / "results.json").read_text())
            if r["class_names"] != names:
                raise ConfigError(f"{d} was trained on classes {r['class_names']}, not {names}: "
                                  "it belongs to another config; use another train.run_dir")
            rows.append({"seed": seed, "fold": s, "uar": r["uar"], "wa": r["wa"], "n": r["n"],
                         "val_uar": r["val_uar"]})
            p = pd.read_csv(d / "predictions.csv", dtype={"speaker": str})
            idx = {n: i for i, n in enumerate(names)}
            probs = p[[f"p_{n}" for n in names]].to_numpy()
            preds.append(pd.DataFrame({"seed": seed, "fold": s, "utt_id": p["utt_id"], "target": p["target"].map(idx),
                                       "pred": p["pred"].map(idx), **{f"p{j}": probs[:, j] for j in range(len(names))}}))
    out = loso_results_dir(cfg)
    summarise_loso(pd.DataFrame(rows), pd.concat(preds, ignore_index=True), names, out,
                             f"{cfg['corpus']} {cfg['variant']}")
    print((out / "summary.md").read_text())
    print(f"written to {out}/ (folds.csv, seeds.csv, summary.md, summary.json, confusion.csv, confusion.png)")
    return out
