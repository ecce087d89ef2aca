"""The deployed path on the LOSO protocol: each fold's tested model, through `predict`, on its
own test speaker's files, one file at a time and grouped by speaker, beside the evaluation
path's figures for the same models and files. A figure counts for users only if `predict`
reaches it: a file in which `predict` finds no speech gets no emotion, and counts as a miss."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import torch

from ..config import Config, require_network
from ..data.datamodule import load_labelled
from ..data.folds import speakers
from ..errors import DataError
from ..inference.predict import predict_files
from ..reporting.metrics import scores
from ..reporting.report import markdown_table
from ..training.runs import fold_checkpoint, run_dir

log = logging.getLogger(__name__)

MODES = {
    "evaluation path": None,
    "predict, one file at a time": "lone",
    "predict --speaker-from": "grouped",
}


def run_deployed(cfg: Config, seeds: list[int], check_speech: bool = True) -> Path:
    """`check_speech` False: every file gets an emotion (predict --no-speech-check)."""
    require_network(cfg, "eval-predict")
    df, names, _ = load_labelled(cfg)
    idx = {n: i for i, n in enumerate(names)}
    idx[None] = len(names)  # no speech found: a class no file has, so always a miss
    records = []
    for seed in seeds:
        run_cfg = cfg.replace(seed=seed)
        for s in speakers(df):
            ckpt = fold_checkpoint(run_cfg, s)
            test = df[df["speaker"] == s].reset_index(drop=True)
            evaluated = pd.read_csv(run_dir(run_cfg, s) / "predictions.csv", dtype={"utt_id": str})
            by_utt = dict(zip(evaluated["utt_id"], evaluated["pred"], strict=True))
            paths = [Path(p) for p in test["path"]]
            outputs = {"evaluation path": [by_utt[u] for u in test["utt_id"]]}
            for mode, kind in MODES.items():
                if kind is not None:
                    rows, errors = predict_files(
                        paths,
                        [ckpt],
                        speakers=[s] * len(paths) if kind == "grouped" else None,
                        check_speech=check_speech,
                    )
                    if errors:
                        raise DataError(
                            f"fold {s}: {len(errors)} test files unreadable: {errors[0]}"
                        )
                    outputs[mode] = [r["pred"] for r in rows]
            fold_uar = {}
            for mode, preds in outputs.items():
                fold = [
                    {
                        "seed": seed,
                        "fold": s,
                        "path": mode,
                        "utt_id": u,
                        "target": int(t),
                        "pred": idx[p],
                    }
                    for u, t, p in zip(test["utt_id"], test["label"], preds, strict=True)
                ]
                fold_uar[mode] = _uar(fold, len(idx))
                records += fold
            log.info(
                f"seed {seed} fold {s}: "
                + ", ".join(f"{m} {100 * u:.1f}" for m, u in fold_uar.items())
            )
    table = pd.DataFrame(records)
    out = Path(cfg.results_dir) / cfg.corpus / cfg.variant / "deployed"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "predictions.csv", index=False)
    lines = [
        f"# {cfg.corpus} {cfg.variant}: the deployed path on each fold's test speaker",
        "",
        f"UAR % of the same LOSO models (seeds {', '.join(map(str, seeds))}) on the same files. "
        f"`predict, one file "
        "at a time` is what a single new recording gets; `predict --speaker-from` groups a "
        "speaker's "
        "files, as the evaluation does.",
        "",
    ]
    summary, cells = {}, []
    for mode in MODES:
        t = table[table["path"] == mode]
        fold_uars = [_uar(g.to_dict("records"), len(idx)) for _, g in t.groupby(["seed", "fold"])]
        pooled = sum(_uar(g.to_dict("records"), len(idx)) for _, g in t.groupby("seed")) / len(
            seeds
        )
        summary[mode] = {
            "uar_mean_over_folds": sum(fold_uars) / len(fold_uars),
            "pooled_uar": pooled,
            "no_speech_found": int((t["pred"] == len(names)).sum()),
        }
        cells.append(
            [
                mode,
                f"{100 * summary[mode]['uar_mean_over_folds']:.2f}",
                f"{100 * pooled:.2f}",
                str(summary[mode]["no_speech_found"]),
            ]
        )
    lines += markdown_table(
        [
            "path",
            "UAR % (mean over folds and seeds)",
            "pooled UAR %",
            "files without speech (misses)",
        ],
        cells,
    )
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("\n".join(lines))
    return out


def _uar(records: list[dict], k: int) -> float:
    return scores(
        torch.tensor([r["pred"] for r in records]), torch.tensor([r["target"] for r in records]), k
    )["uar"]
