"""Why a class collapses on a corpus the model has not heard: its answers against the truth,
whether a shift of the class priors explains it, and whether the recordings' level does.

    python -m mtl_aug.reporting.collapse results/loco/<corpora>/<variant> [--seed 0]

For each held-out corpus of a leave-one-corpus-out run, prints per class: utterances, answers,
recall as evaluated, and recall after the class priors are re-estimated on the held-out
corpus's own answers (EM, Saerens et al. 2002, Neural Computation 14: no label used, but all of
the corpus's files: what a user with a folder of recordings could do, not a lone file); and
the median active level (dB full scale, frames within 40 dB of the file's loudest) of each
class's utterances and of the utterances answered as it, and recall after one gain moves the
whole held-out corpus's median level onto the model's training level (`evaluate
--align-level`, data/level.py; again all of its files); first, every corpus's median level.
The checkpoints must hold their training level (python -m mtl_aug.training.store_level).
EM corrects a change of class priors in calibrated posteriors; a bias of the model towards one
class it reinforces, so the two columns tell the causes apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .metrics import scores
from .report import percent
from .tables import loco_results


def em_priors(probs: torch.Tensor, train_prior: torch.Tensor, steps: int = 100) -> torch.Tensor:
    """Posteriors (N, C) re-weighted to the class priors that maximise the likelihood of the
    answers (Saerens et al. 2002): prior <- mean of the adjusted posteriors, until stable."""
    prior = train_prior.clone()
    adjusted = probs
    for _ in range(steps):
        weighted = probs * (prior / train_prior)
        adjusted = weighted / weighted.sum(-1, keepdim=True)
        new = adjusted.mean(0)
        if torch.allclose(new, prior, atol=1e-6):
            break
        prior = new
    return adjusted


def levels(lit, df: pd.DataFrame) -> np.ndarray:
    """The active level of each utterance of `df`."""
    from ..data.audio import load_audio
    from ..data.level import active_level

    return np.array([active_level(load_audio(p, lit.cfg.data.sample_rate)) for p in df["path"]])


def analyse(loco_dir: Path, seed: int = 0) -> str:
    """The tables described above, one per held-out corpus, after a line of every corpus's
    median active level."""
    from ..data.level import require_level
    from ..inference.evaluate import evaluate_frame, labelled_for, load_checkpoint

    runs = loco_results(loco_dir, seed)
    models = [load_checkpoint(res["checkpoints"][0], "cpu") for res in runs]
    for res, m in zip(runs, models, strict=True):  # the level column needs each one's level
        require_level(res["checkpoints"][0], m.training_level)
    frames = [
        labelled_for(m, res["manifest"]).reset_index(drop=True)
        for m, res in zip(models, runs, strict=True)
    ]
    level = [levels(m, df) for m, df in zip(models, frames, strict=True)]
    out = [
        "median active level (dBFS): "
        + ", ".join(f"{r['test']} {np.median(v):.1f}" for r, v in zip(runs, level, strict=True)),
        "",
    ]
    uars = {"as evaluated": [], "priors re-estimated": [], "level moved": []}
    for i, (row, lit, df) in enumerate(zip(runs, models, frames, strict=True)):
        names, k = lit.class_names, lit.num_classes
        ev = evaluate_frame(lit, df)  # the evaluation's own path: its UAR is results.json's
        probs, targets = ev["probs"], ev["targets"]
        em = em_priors(probs, torch.full((k,), 1.0 / k))  # class-balanced training: uniform
        adapted = scores(em.argmax(-1), targets, k)
        # one gain for the whole corpus onto the training level, as evaluate --align-level
        gained = evaluate_frame(lit, df, align_level=True)
        gain_db = gained["gain_db"]
        answered, truth = probs.argmax(-1).numpy(), targets.numpy()
        for key, r in zip(uars, (ev, adapted, gained), strict=True):
            uars[key].append(r["uar"])
        out += [
            f"## {row['test']} (trained on {row['train']}): UAR {100 * ev['uar']:.2f} as "
            f"evaluated (results.json {100 * row['uar']:.2f}), {100 * adapted['uar']:.2f} "
            f"with priors re-estimated on its answers, {100 * gained['uar']:.2f} with its level "
            f"moved {gain_db:+.1f} dB onto the training level ({lit.training_level:.1f} dBFS)",
            "",
            "| class | utterances | answered | recall % | recall %, EM priors | EM prior % "
            "| recall %, level moved | median level of the class / of its answers (dBFS) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        prior = em.mean(0)
        for c, name in enumerate(names):
            mine, said = truth == c, answered == c
            out.append(
                f"| {name} | {int(mine.sum())} | {int(said.sum())} | {percent(ev['recall'][c])} "
                f"| {percent(adapted['recall'][c])} | {100 * prior[c]:.1f} "
                f"| {percent(gained['recall'][c])} "
                f"| {_median(level[i][mine])} / {_median(level[i][said])} |"
            )
        out.append("")
    means = ", ".join(f"{k} {100 * sum(v) / len(v):.2f}" for k, v in uars.items())
    out.append(f"mean UAR over the {len(runs)} held-out corpora: {means}")
    return "\n".join(out)


def _median(x: np.ndarray) -> str:
    return f"{np.median(x):.1f}" if len(x) else "-"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m mtl_aug.reporting.collapse",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("loco_dir", type=Path, help="an eval-loco results folder (with corpora.csv)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(analyse(args.loco_dir, args.seed))


if __name__ == "__main__":
    main()
