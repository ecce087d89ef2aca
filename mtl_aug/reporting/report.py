"""Summaries a paper can cite: LOSO aggregation, markdown tables, paired differences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import DataError
from .metrics import scores
from .plots import plot_confusion


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """The lines of a markdown table: the header, its rule, one line per row (cells as given)."""
    return ["| " + " | ".join(map(str, header)) + " |", "|---|" + "---|" * (len(header) - 1)] + [
        "| " + " | ".join(map(str, r)) + " |" for r in rows
    ]


def percent(x: float | None) -> str:
    """A fraction as a percentage with one decimal; "-" where there is none (a class absent)."""
    return "-" if x is None else f"{100 * x:.1f}"


def counted(n: int, noun: str) -> str:
    """`n` and the noun, plural but for one: "1 epoch", "10 epochs"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def mean_std(values, pct: bool = True) -> str:
    v = np.asarray(list(values), dtype=float) * (100 if pct else 1)
    if len(v) == 0:
        return "n/a"
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def summarise_loso(
    folds: pd.DataFrame,
    preds: pd.DataFrame,
    class_names: list[str],
    out: Path,
    title: str,
    note: str | None = None,
) -> dict:
    """`folds`: one row per (seed, fold) with uar, wa, n. `preds`: every test prediction with
    seed, target and pred (class indices). Writes folds.csv, seeds.csv, summary.json,
    summary.md, confusion.csv and confusion.png into `out`; returns the summary.

    Per seed: mean and std of UAR/WA over folds (std with ddof=1), and UAR/WA pooled over all
    of that seed's test predictions. Over seeds: the mean and std of the per-seed fold means."""
    out.mkdir(parents=True, exist_ok=True)
    k = len(class_names)
    per_seed = []
    for seed, group in folds.groupby("seed"):
        p = preds[preds["seed"] == seed]
        pooled = scores(torch.tensor(p["pred"].to_numpy()), torch.tensor(p["target"].to_numpy()), k)
        per_seed.append(
            {
                "seed": seed,
                "folds": len(group),
                "uar_mean": group["uar"].mean(),
                "uar_std": group["uar"].std(ddof=1),
                "wa_mean": group["wa"].mean(),
                "wa_std": group["wa"].std(ddof=1),
                "pooled_uar": pooled["uar"],
                "pooled_wa": pooled["wa"],
            }
        )
    seeds = pd.DataFrame(per_seed)
    confusion = scores(
        torch.tensor(preds["pred"].to_numpy()), torch.tensor(preds["target"].to_numpy()), k
    )["confusion"]
    summary = {
        "title": title,
        **({"note": note} if note else {}),
        "class_names": class_names,
        "seeds": seeds["seed"].tolist(),
        "folds_per_seed": int(seeds["folds"].iloc[0]),
        "uar_mean_over_folds": float(seeds["uar_mean"].mean()),
        "uar_std_over_folds": float(seeds["uar_std"].mean()),
        "wa_mean_over_folds": float(seeds["wa_mean"].mean()),
        "wa_std_over_folds": float(seeds["wa_std"].mean()),
        "uar_std_over_seeds": float(seeds["uar_mean"].std(ddof=1)) if len(seeds) > 1 else None,
        "pooled_uar": float(seeds["pooled_uar"].mean()),
        "pooled_wa": float(seeds["pooled_wa"].mean()),
        "fold_uars": folds["uar"].tolist(),
        "confusion_summed": confusion,
    }
    ensemble = ensemble_scores(preds, k) if len(seeds) > 1 and "p0" in preds else None
    if ensemble is not None:
        summary.update(
            ensemble_uar_mean_over_folds=ensemble["uar_mean"],
            ensemble_pooled_uar=ensemble["pooled_uar"],
        )
    folds.to_csv(out / "folds.csv", index=False)
    seeds.to_csv(out / "seeds.csv", index=False)
    pd.DataFrame(confusion, index=class_names, columns=class_names).to_csv(out / "confusion.csv")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_confusion(
        confusion,
        class_names,
        out / "confusion.png",
        f"{title}: summed over {summary['folds_per_seed']} folds"
        + (f" x {len(seeds)} seeds" if len(seeds) > 1 else ""),
    )
    lines = [
        f"# {title}",
        "",
        "UAR = mean recall over the classes present in a fold's test speaker; WA = accuracy. "
        "± is the standard deviation over folds (per seed); pooled = one UAR over every test "
        "prediction of all folds.",
        "",
    ]
    if note:
        lines += [note, ""]
    lines += markdown_table(
        [
            "seed",
            "folds",
            "UAR % (mean ± std over folds)",
            "WA % (mean ± std over folds)",
            "pooled UAR %",
            "pooled WA %",
        ],
        [
            [
                r["seed"] if isinstance(r["seed"], str) else int(r["seed"]),
                int(r["folds"]),
                f"{100 * r['uar_mean']:.2f} ± {100 * r['uar_std']:.2f}",
                f"{100 * r['wa_mean']:.2f} ± {100 * r['wa_std']:.2f}",
                f"{100 * r['pooled_uar']:.2f}",
                f"{100 * r['pooled_wa']:.2f}",
            ]
            for _, r in seeds.iterrows()
        ],
    )
    if len(seeds) > 1:
        lines += [
            "",
            f"Over {len(seeds)} seeds: fold-mean UAR {mean_std(seeds['uar_mean'])} % "
            f"(mean ± std over seeds), pooled UAR {mean_std(seeds['pooled_uar'])} %.",
        ]
    if ensemble is not None:
        lines += [
            "",
            f"Ensemble of the {len(seeds)} seeds (class probabilities averaged per utterance): "
            f"fold-mean UAR "
            f"{100 * ensemble['uar_mean']:.2f} %, pooled UAR {100 * ensemble['pooled_uar']:.2f} %.",
        ]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    return summary


def ensemble_scores(preds: pd.DataFrame, k: int) -> dict:
    """The seeds of each fold as one ensemble: `preds` rows (seed, fold, utt_id, target, p0..pk-1)
    averaged over seeds per utterance; the fold-mean and pooled UAR of its argmax."""
    cols = [f"p{j}" for j in range(k)]
    mean = preds.groupby(["fold", "utt_id"], sort=False).agg(
        {"target": "first", **{c: "mean" for c in cols}}
    )
    mean["pred"] = mean[cols].to_numpy().argmax(1)
    per_fold = [
        scores(torch.tensor(g["pred"].to_numpy()), torch.tensor(g["target"].to_numpy()), k)["uar"]
        for _, g in mean.groupby(level="fold")
    ]
    pooled = scores(
        torch.tensor(mean["pred"].to_numpy()), torch.tensor(mean["target"].to_numpy()), k
    )["uar"]
    return {"uar_mean": float(np.mean(per_fold)), "pooled_uar": float(pooled)}


def paired_difference(base: pd.DataFrame, other: pd.DataFrame) -> dict:
    """Per-fold UAR difference other - base (each fold's UAR averaged over its seeds first: seed k
    of one run and seed k of another are unrelated): mean, its standard error (std with ddof=1
    over sqrt(folds)), and how many folds improved. Both runs must cover the same folds."""
    a, b = (f.groupby("fold")["uar"].mean() for f in (base, other))
    if set(a.index) != set(b.index):
        raise DataError(
            f"the runs cover different folds ({sorted(a.index)} vs {sorted(b.index)}): "
            "a paired comparison needs the same folds"
        )
    d = b[a.index] - a
    return {
        "n": len(d),
        "mean": float(d.mean()),
        "se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan"),
        "better": int((d > 0).sum()),
        "worse": int((d < 0).sum()),
    }


def report(dirs: list[Path]) -> str:
    """Several LOSO results folders side by side (e.g. STL vs MTL-AUG) in one markdown table;
    each run after the first is also compared with the first fold by fold (paired difference)."""
    rows, summaries = [], []
    for d in dirs:
        f = Path(d) / "summary.json"
        if not f.is_file():
            raise DataError(
                f"{f} not found: is {d} a finished LOSO results folder (make loso ...)?"
            )
        summaries.append(s := json.loads(f.read_text()))
        seed_std = (
            "n/a" if s["uar_std_over_seeds"] is None else f"{100 * s['uar_std_over_seeds']:.2f}"
        )
        rows.append(
            [
                s["title"],
                len(s["seeds"]),
                s["folds_per_seed"],
                f"{100 * s['uar_mean_over_folds']:.2f} ± {100 * s['uar_std_over_folds']:.2f}",
                f"{100 * s['wa_mean_over_folds']:.2f} ± {100 * s['wa_std_over_folds']:.2f}",
                seed_std,
                f"{100 * s['pooled_uar']:.2f}",
            ]
        )
    lines = markdown_table(
        [
            "run",
            "seeds",
            "folds",
            "UAR % (mean ± std over folds)",
            "WA % (mean ± std over folds)",
            "UAR std over seeds",
            "pooled UAR %",
        ],
        rows,
    )
    titles = [s["title"] for s in summaries]
    base = pd.read_csv(Path(dirs[0]) / "folds.csv", dtype={"fold": str})
    for d, title in zip(dirs[1:], titles[1:], strict=True):
        p = paired_difference(base, pd.read_csv(Path(d) / "folds.csv", dtype={"fold": str}))
        lines.append(
            f"\n{title} - {titles[0]}: UAR {100 * p['mean']:+.2f} ± {100 * p['se']:.2f} points "
            f"(mean ± standard error of the paired per-fold difference, seeds averaged per fold, "
            f"{p['n']} folds; "
            f"better on {p['better']}, worse on {p['worse']})"
        )
    return "\n".join(lines)


def write_predictions(path: Path, frame: pd.DataFrame, test: dict, class_names: list[str]) -> None:
    rows = frame.iloc[test["index"].numpy()]
    table = pd.DataFrame(
        {
            "utt_id": rows["utt_id"].values,
            "speaker": rows["speaker"].values,
            "target": [class_names[i] for i in test["targets"]],
            "pred": [class_names[i] for i in test["preds"]],
        }
    )
    for j, name in enumerate(class_names):
        table[f"p_{name}"] = test["probs"][:, j].numpy().round(5)
    table.to_csv(path, index=False)


def confusion_table(confusion: list[list[int]], names: list[str]) -> str:
    width = max(6, *(len(n) for n in names)) + 1
    lines = ["true \\ pred".ljust(width) + "".join(n[: width - 1].rjust(width) for n in names)]
    lines += [
        name.ljust(width) + "".join(str(v).rjust(width) for v in row)
        for name, row in zip(names, confusion, strict=True)
    ]
    return "\n".join(lines)


def fold_summary(r: dict, out: Path) -> str:
    lines = [
        "",
        "=" * 64,
        f"{r['corpus']} / {r['variant']} / seed {r['seed']} / fold {r['fold']}",
        f"validation UAR {r['last_val_uar']:.4f} at the end, best {r['best_val_uar']:.4f} "
        f"({', '.join(r['val_speakers'])}); {counted(r['epochs_trained'], 'epoch')}; tested: "
        f"{Path(r['checkpoint']).name}",
    ]
    if "uar" in r:
        lines += [
            f"TEST  UAR {r['uar']:.4f}   WA {r['wa']:.4f}   ({r['n']} utterances, "
            f"speaker {', '.join(r['test_speakers'])})",
            confusion_table(r["confusion"], r["class_names"]),
        ]
    if "note" in r:
        lines.append(r["note"])
    lines += [f"run directory: {out}", "=" * 64]
    return "\n".join(lines)
