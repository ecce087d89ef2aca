"""Why a class collapses on a corpus the model has not heard: its answers against the truth,
whether a shift of the class priors explains it, and whether the recordings' level does.

    python -m mtl_aug.reporting.collapse results/loco/<corpora>/<variant> [--seed 0]

For each held-out corpus of a leave-one-corpus-out run, prints per class: utterances, answers,
recall as evaluated, and recall after the class priors are re-estimated on the held-out
corpus's own answers (EM, Saerens et al. 2002, Neural Computation 14: no label used, but all of
the corpus's files: what a user with a folder of recordings could do, not a lone file); and
the median active level (dB full scale, frames within 40 dB of the file's loudest) of each
class's utterances and of the utterances answered as it; first, every corpus's median level.
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
from .tables import cross_result


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


def active_level(wave: torch.Tensor, frame: int = 400, floor_db: float = 40.0) -> float:
    """dB full scale of the frames within `floor_db` of the file's loudest 25 ms frame."""
    n = len(wave) // frame
    if n == 0:
        return float(20 * torch.log10(wave.pow(2).mean().sqrt() + 1e-9))
    power = wave[: n * frame].reshape(n, frame).pow(2).mean(-1) + 1e-12
    db = 10 * torch.log10(power)
    return float(10 * torch.log10(power[db >= db.max() - floor_db].mean()))


def levels(lit, df: pd.DataFrame) -> np.ndarray:
    """The active level of each utterance of `df`."""
    from ..data.audio import load_audio

    return np.array([active_level(load_audio(p, lit.cfg.data.sample_rate)) for p in df["path"]])


def analyse(loco_dir: Path, seed: int = 0) -> str:
    """The tables described above, one per held-out corpus, after a line of every corpus's
    median active level."""
    from ..inference.evaluate import evaluate_frame, labelled_for, load_checkpoint

    rows = pd.read_csv(loco_dir / "corpora.csv").to_dict("records")
    out, medians = [], {}
    for row in rows:
        res = cross_result(Path(row["results"]), seed)
        lit = load_checkpoint(res["checkpoints"][0], "cpu")
        names, k = lit.class_names, lit.num_classes
        df = labelled_for(lit, res["manifest"]).reset_index(drop=True)
        level = levels(lit, df)
        medians[row["test"]] = float(np.median(level))
        ev = evaluate_frame(lit, df)  # the evaluation's own path: its UAR is results.json's
        probs, targets = ev["probs"], ev["targets"]
        train_prior = torch.full((k,), 1.0 / k)  # class-balanced cross-entropy: uniform
        em = em_priors(probs, train_prior)
        adapted = scores(em.argmax(-1), targets, k)
        answered, truth = probs.argmax(-1).numpy(), targets.numpy()
        out += [
            f"## {row['test']} (trained on {row['train']}): UAR {100 * ev['uar']:.2f} as "
            f"evaluated (results.json {100 * res['uar']:.2f}), {100 * adapted['uar']:.2f} with "
            "priors re-estimated on its answers",
            "",
            "| class | utterances | answered | recall % | recall %, EM priors | EM prior % "
            "| median level of the class / of its answers (dBFS) |",
            "|---|---|---|---|---|---|---|",
        ]
        prior = em.mean(0)
        for i, name in enumerate(names):
            mine, said = truth == i, answered == i
            out.append(
                f"| {name} | {int(mine.sum())} | {int(said.sum())} | {_pct(ev['recall'][i])} "
                f"| {_pct(adapted['recall'][i])} | {100 * prior[i]:.1f} "
                f"| {_median(level[mine])} / {_median(level[said])} |"
            )
        out.append("")
    head = "median active level (dBFS): " + ", ".join(f"{c} {v:.1f}" for c, v in medians.items())
    return "\n".join([head, "", *out])


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


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
