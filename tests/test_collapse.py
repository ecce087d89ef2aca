"""The class-collapse analysis (reporting/collapse.py): prior re-estimation, active level, and
its tables on a leave-one-corpus-out run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import torch

from mtl_aug.inference.evaluate import load_checkpoint
from mtl_aug.reporting.collapse import analyse, em_priors
from mtl_aug.reporting.metrics import scores


def test_em_priors_recover_a_shifted_prior_and_stop_answering_an_absent_class():
    """Posteriors calibrated for balanced classes (Gaussian classes at -2, 0, 2, unit
    variance) meet a corpus of 150 class-0 and 50 class-1 items and no class 2: re-estimating
    the priors on the posteriors alone finds about 0.75 / 0.25 / 0, and class 2 is no longer
    answered; no label is used."""
    gen = torch.Generator().manual_seed(0)
    targets = torch.tensor([0] * 150 + [1] * 50)
    means = torch.tensor([-2.0, 0.0, 2.0])
    x = means[targets] + torch.randn(200, generator=gen)
    probs = (-0.5 * (x[:, None] - means[None]) ** 2).softmax(-1)  # uniform prior
    adjusted = em_priors(probs, torch.full((3,), 1 / 3))
    prior = adjusted.mean(0)
    assert abs(prior[0] - 0.75) < 0.08 and abs(prior[1] - 0.25) < 0.08 and prior[2] < 0.03
    assert (probs.argmax(-1) == 2).sum() > 0 and (adjusted.argmax(-1) == 2).sum() == 0
    assert torch.allclose(adjusted.sum(-1), torch.ones(200))
    before = scores(probs.argmax(-1), targets, 3)["wa"]
    assert scores(adjusted.argmax(-1), targets, 3)["wa"] > before


def test_analyse_reports_each_held_out_corpus_as_evaluated(built):
    """One table per held-out corpus; its UAR as evaluated equals the run's results.json, and
    each class's utterances and answers add up to the corpus."""
    loco = Path(built["cfg"].results_dir) / "loco" / "alpha+beta" / "multi"
    text = analyse(loco)
    head = text.splitlines()[0]
    assert head.startswith("median active level (dBFS): alpha ")
    median = {c: float(v) for c, v in re.findall(r"(alpha|beta) (-?[0-9.]+)", head)}
    uars = []
    for row in pd.read_csv(loco / "corpora.csv").to_dict("records"):
        res = json.loads((Path(row["results"]) / "seed0" / "results.json").read_text())
        uars.append(res["uar"])
        uar = f"{100 * res['uar']:.2f}"
        section = text.split(f"## {row['test']} ")[1].split("## ")[0]
        assert f"UAR {uar} as evaluated (results.json {uar})" in section
        # the gain closes the gap between the corpus's median and the model's training level
        trained = load_checkpoint(res["checkpoints"][0], "cpu").training_level
        gain = float(re.search(r"level moved ([-+][0-9.]+) dB", section)[1])
        assert abs(gain - (trained - median[row["test"]])) <= 0.11
        cells = [line.split("|")[2:4] for line in section.splitlines() if line.startswith("| ")]
        counts = [(int(a), int(b)) for a, b in cells[1:]]  # after the header row
        assert sum(a for a, _ in counts) == sum(b for _, b in counts) == res["n"]
    mean = f"{100 * sum(uars) / len(uars):.2f}"
    assert f"mean UAR over the 2 held-out corpora: as evaluated {mean}, priors " in text
