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


# the SVM's shares `--weight nested` chooses from
GRID = tuple(i / 20 for i in range(21))


def fuse_loso(net: Config, svm: Config, seeds: list[int], weight: float | None) -> Path:
    """p = (1 - weight) * p_network + weight * p_svm for every test utterance of every fold
    and network seed; the LOSO summary of argmax p in results/<corpus>/<net>+<svm>_w<weight>/.
    `weight` None (`--weight nested`): each fold's weight is the one of GRID whose fused
    predictions have the best pooled UAR on the other folds' test speakers (same seed), so the
    fold's own labels never choose it; ties go to the weight nearest 0.5."""
    from ..data.datamodule import load_labelled
    from ..data.folds import speakers
    from ..protocols.loso_summary import summarise

    if net.baseline.svm or not svm.baseline.svm:
        raise ConfigError("fusion takes a network config and an SVM config (e.g. --svm svm)")
    if weight is not None and not 0 <= weight <= 1:
        raise ConfigError(f"the fusion weight must be from 0 to 1, got {weight}")
    df, names, _ = load_labelled(net)
    if load_labelled(svm)[1] != names:
        raise ConfigError(f"the SVM config's classes differ from the network's ({names})")
    fused = net.replace(variant=f"{net.variant}+{svm.variant}_w{_weight_name(weight)}")
    for seed in seeds:
        run = net.replace(seed=seed)
        merged = {s: _merged(run, svm, s, names) for s in speakers(df)}
        for s, m in merged.items():
            w = weight if weight is not None else _nested_weight(merged, s, names)
            _write_fold(run, svm, fused.replace(seed=seed), s, m, names, w)
    share = (
        "a weight w chosen per fold from 0 to 1 by the pooled UAR of the other folds"
        if weight is None
        else f"w = {weight:g}"
    )
    note = (
        f"Late fusion: (1 - w) x the class probabilities of {net.variant} + w x the calibrated "
        f"probabilities of {svm.variant}, per utterance, fold by fold; {share}."
    )
    return summarise(fused, seeds, speakers(df), names, note=note)


def _weight_name(weight: float | None) -> str:
    return "nested" if weight is None else f"{weight:g}"


def _merged(net: Config, svm: Config, fold: str, names: list[str]) -> pd.DataFrame:
    """One fold's test utterances with the network's p_<class> and the SVM's p_<class>_svm."""
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
    return m


def _fused(m: pd.DataFrame, names: list[str], weight: float):
    """The fused probabilities and the targets' class indices."""
    cols = [f"p_{n}" for n in names]
    p = (1 - weight) * m[cols].to_numpy() + weight * m[[f"{c}_svm" for c in cols]].to_numpy()
    idx = {n: i for i, n in enumerate(names)}
    return p, torch.tensor(m["target"].map(idx).to_numpy())


def _nested_weight(merged: dict[str, pd.DataFrame], fold: str, names: list[str]) -> float:
    others = pd.concat([m for s, m in merged.items() if s != fold], ignore_index=True)

    def uar(w: float) -> float:
        p, target = _fused(others, names, w)
        return scores(torch.tensor(p.argmax(1)), target, len(names))["uar"]

    return max(GRID, key=lambda w: (uar(w), -abs(w - 0.5)))


def _write_fold(
    net: Config,
    svm: Config,
    fused: Config,
    fold: str,
    m: pd.DataFrame,
    names: list[str],
    weight: float,
) -> None:
    """One fold's fused predictions.csv and results.json, in the network's run-folder layout."""
    p, target = _fused(m, names, weight)
    table = m[["utt_id", "speaker", "target"]].copy()
    table["pred"] = [names[i] for i in p.argmax(1)]
    table[[f"p_{n}" for n in names]] = p.round(5)
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
