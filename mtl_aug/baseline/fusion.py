"""Late fusion of the network and the SVM on LOSO: per utterance, the network's class
probabilities and the SVM's calibrated ones averaged with a weight, from the predictions.csv
of the same fold of each (both runs finished: make loso with each config)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import torch

from ..config import Config
from ..errors import ConfigError, DataError
from ..reporting.metrics import scores
from ..training.runs import run_dir
from .protocols import svm_run_dir

log = logging.getLogger(__name__)


def _predictions(d: Path, what: str, make: str) -> pd.DataFrame:
    if not (d / "results.json").is_file():
        raise DataError(f"{d / 'results.json'} not found: the {what} fold has not run ({make})")
    return pd.read_csv(d / "predictions.csv", dtype={"speaker": str})


def fuse_loso(net: Config, svm: Config, seeds: list[int], weight: float) -> Path:
    """p = (1 - weight) * p_network + weight * p_svm for every test utterance of every fold
    and network seed; the LOSO summary of argmax p in results/<corpus>/<net>+<svm>_w<weight>/."""
    from ..data.datamodule import load_labelled
    from ..data.folds import speakers
    from ..protocols.loso_summary import summarise

    if net.baseline.svm or not svm.baseline.svm:
        raise ConfigError("fusion takes a network config and an SVM config (e.g. --svm svm)")
    if not 0 <= weight <= 1:
        raise ConfigError(f"the fusion weight must be from 0 to 1, got {weight}")
    df, names, _ = load_labelled(net)
    if load_labelled(svm)[1] != names:
        raise ConfigError(f"the SVM config's classes differ from the network's ({names})")
    variant = f"{net.variant}+{svm.variant}_w{weight:g}"
    fused = net.replace(variant=variant)
    for seed in seeds:
        for s in speakers(df):
            _fuse_fold(net.replace(seed=seed), svm, fused.replace(seed=seed), s, names, weight)
    note = (
        f"Late fusion: (1 - {weight:g}) x the class probabilities of {net.variant} + {weight:g} x "
        f"the calibrated probabilities of {svm.variant}, per utterance, fold by fold."
    )
    return summarise(fused, seeds, speakers(df), names, note=note)


def _fuse_fold(
    net: Config, svm: Config, fused: Config, fold: str, names: list[str], weight: float
) -> None:
    """One fold's fused predictions.csv and results.json, in the network's run-folder layout."""
    a = _predictions(
        run_dir(net, fold),
        f"network ({net.variant}, seed {net.seed})",
        f"make loso CORPUS={net.corpus} SEEDS={net.seed}",
    )
    b = _predictions(
        svm_run_dir(svm, fold),
        f"SVM ({svm.variant})",
        f"make loso CORPUS={svm.corpus} CONFIG={svm.variant}",
    )
    cols = [f"p_{n}" for n in names]
    m = a.merge(b[["utt_id", *cols]], on="utt_id", suffixes=("", "_svm"), validate="1:1")
    if len(m) != len(a) or len(m) != len(b):
        raise DataError(f"fold {fold}: the network and the SVM tested different utterances")
    p = (1 - weight) * m[cols].to_numpy() + weight * m[[f"{c}_svm" for c in cols]].to_numpy()
    table = m[["utt_id", "speaker", "target"]].copy()
    table["pred"] = [names[i] for i in p.argmax(1)]
    table[cols] = p.round(5)
    idx = {n: i for i, n in enumerate(names)}
    target = torch.tensor(table["target"].map(idx).to_numpy())
    r = scores(torch.tensor(p.argmax(1)), target, len(names))
    val = json.loads((run_dir(net, fold) / "results.json").read_text())["val_uar"]
    out = run_dir(fused, fold)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "predictions.csv", index=False)
    fusion = {"network": net.variant, "svm": svm.variant, "weight": weight}
    (out / "results.json").write_text(
        json.dumps(
            {
                "class_names": names,
                **{k: r[k] for k in ("uar", "wa", "recall", "confusion", "n")},
                "val_uar": val,
                "fusion": fusion,
            },
            indent=2,
        )
        + "\n"
    )
