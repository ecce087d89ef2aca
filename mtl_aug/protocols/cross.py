"""Cross-corpus / cross-language (train on every speaker of one corpus or a union, test on
another) and leave-one-corpus-out."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from ..config import Config
from ..data.datamodule import load_labelled
from ..errors import ConfigError
from ..inference.evaluate import evaluate_checkpoint
from ..training.runs import fold_checkpoint
from ..training.train import train_fold

log = logging.getLogger(__name__)


def _results_variant(cfg: Config, align_level: bool) -> str:
    """The results folder's variant name: `<variant>_level` for an --align-level evaluation."""
    return f"{cfg.variant}_level" if align_level else cfg.variant


def run_cross(cfg: Config, test_corpus: str, seeds: list[int], align_level: bool = False) -> Path:
    """Train on all speakers of cfg.corpus (validation speaker(s) held out of it), test on
    every utterance of `test_corpus`, one row per seed; returns the results folder.
    `align_level`: the test corpus is moved by one gain onto each model's training level
    (data/level.py) before it is evaluated; the results go to `<variant>_level`."""
    from ..reporting.plots import plot_confusion
    from ..reporting.report import markdown_table, mean_std

    if test_corpus in cfg.corpus.split("+"):
        raise ConfigError(
            f"{test_corpus} is among the training corpora ({cfg.corpus}): a test on it "
            "is not cross-corpus"
        )
    if test_corpus in cfg.data.unlabelled_parts:
        raise ConfigError(
            f"{test_corpus} is in data.unlabelled ({'+'.join(cfg.data.unlabelled_parts)}): the "
            "auxiliary tasks would train on the test corpus's audio; leave it out of "
            "data.unlabelled"
        )
    # the test corpus must be prepared and map into the class set; data.styles filters training only
    load_labelled(cfg.replace(data=replace(cfg.data, styles=None)), test_corpus)
    if align_level and cfg.baseline.svm:
        raise ConfigError(
            "--align-level moves the audio a network hears; the SVM has no such option"
        )
    variant = _results_variant(cfg, align_level)
    out = Path(cfg.results_dir) / "cross" / f"{cfg.corpus}_to_{test_corpus}" / variant
    if cfg.baseline.svm:
        return _svm_cross(cfg, test_corpus, out)
    rows, confusion, checkpoints = [], None, []
    manifest = Path(cfg.data.manifest_dir) / f"{test_corpus}.csv"
    for seed in seeds:
        trained = train_fold(cfg.replace(seed=seed), all_speakers=True)
        checkpoints.append(fold_checkpoint(cfg.replace(seed=seed), trained["fold"], trained))
        res = evaluate_checkpoint([checkpoints[-1]], manifest, out / f"seed{seed}", align_level)
        rows.append(
            {
                "seed": seed,
                "uar": res["uar"],
                "wa": res["wa"],
                "n": res["n"],
                "val_uar": trained["val_uar"],
            }
        )
        confusion = (
            res["confusion"]
            if confusion is None
            else (torch.tensor(confusion) + torch.tensor(res["confusion"])).tolist()
        )
        names = res["class_names"]
    table = pd.DataFrame(rows)
    table.to_csv(out / "seeds.csv", index=False)
    plot_confusion(
        confusion, names, out / "confusion.png", f"{cfg.corpus} -> {test_corpus} ({variant})"
    )
    md = [
        f"# {cfg.corpus} -> {test_corpus}, {variant}",
        "",
        f"Trained on every speaker of {cfg.corpus} (validation speakers held out of it), tested "
        f"on every "
        f"utterance of {test_corpus}"
        + (", its level moved by one gain onto the training level" if align_level else "")
        + f"; classes {', '.join(names)}.",
        "",
    ]
    md += markdown_table(
        ["seeds", "UAR (mean ± std over seeds)", "WA (mean ± std over seeds)", "utterances"],
        [[", ".join(map(str, seeds)), mean_std(table["uar"]), mean_std(table["wa"]), rows[0]["n"]]],
    )
    if len(seeds) > 1:
        ens = evaluate_checkpoint(checkpoints, manifest, out / "ensemble", align_level)
        md += [
            f"| ensemble of {len(seeds)} (probabilities averaged) "
            f"| {100 * ens['uar']:.2f} | {100 * ens['wa']:.2f} | "
            f"{ens['n']} |"
        ]
    (out / "summary.md").write_text("\n".join(md) + "\n")
    log.info("\n".join(md))
    return out


def _svm_cross(cfg: Config, test_corpus: str, out: Path) -> Path:
    """The SVM's run_cross: one deterministic run, the network's table with seed "none"."""
    from ..baseline.protocols import SEED, note, svm_cross
    from ..reporting.report import markdown_table

    res = svm_cross(cfg, test_corpus, out)
    row = {"seed": SEED, "uar": res["uar"], "wa": res["wa"], "n": res["n"]}
    pd.DataFrame([{**row, "val_uar": res["val_uar"]}]).to_csv(out / "seeds.csv", index=False)
    md = [
        f"# {cfg.corpus} -> {test_corpus}, {cfg.variant}",
        "",
        f"Trained on every speaker of {cfg.corpus} (validation speakers held out of it), tested "
        f"on every utterance of {test_corpus}; classes {', '.join(res['class_names'])}.",
        "",
        note(cfg),
        "",
    ]
    md += markdown_table(
        ["seeds", "UAR", "WA", "utterances"],
        [[SEED, f"{100 * res['uar']:.2f}", f"{100 * res['wa']:.2f}", res["n"]]],
    )
    (out / "summary.md").write_text("\n".join(md) + "\n")
    log.info("\n".join(md))
    return out


def run_loco(cfg: Config, corpora: list[str], seeds: list[int], align_level: bool = False) -> Path:
    """Leave one corpus out: for each corpus, train on the union of the others and test on it
    (run_cross, with `align_level`); one summary table over the held-out corpora, and
    corpora.csv, whose `results` column names each held-out corpus's run_cross folder."""
    from ..reporting.report import markdown_table, mean_std

    if len(corpora) < 2 or len(set(corpora)) < len(corpora):
        raise ConfigError(
            f"leave-one-corpus-out needs two or more different corpora, got {corpora}"
        )
    for c in corpora:  # every manifest prepared and mapped before any training
        load_labelled(cfg.replace(data=replace(cfg.data, styles=None)), c)
    rows = []
    for held_out in corpora:
        train = "+".join(c for c in corpora if c != held_out)
        out = run_cross(cfg.replace(corpus=train), held_out, seeds, align_level)
        table = pd.read_csv(out / "seeds.csv")
        rows.append(
            {
                "test": held_out,
                "train": train,
                "uar": mean_std(table["uar"]),
                "wa": mean_std(table["wa"]),
                "utterances": int(table["n"].iloc[0]),
                "results": str(out),
            }
        )
    variant = _results_variant(cfg, align_level)
    out = Path(cfg.results_dir) / "loco" / "+".join(corpora) / variant
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "corpora.csv", index=False)
    over = (
        "one deterministic run"
        if cfg.baseline.svm
        else f"mean ± std over seeds {', '.join(map(str, seeds))}"
    )
    md = [
        f"# Leave one corpus out: {', '.join(corpora)} ({variant})",
        "",
        f"UAR % and WA % ({over}) on each held-out corpus, trained on the others.",
        "",
    ]
    md += markdown_table(
        ["held out", "trained on", "UAR", "WA", "utterances"],
        [[r["test"], r["train"], r["uar"], r["wa"], r["utterances"]] for r in rows],
    )
    (out / "summary.md").write_text("\n".join(md) + "\n")
    log.info("\n".join(md))
    return out
