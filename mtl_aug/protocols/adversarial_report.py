"""The adversarial protocol's summary: UAR per variant, attack and budget, the paired
differences against the first variant, the transfer table, and the plot against the budget."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..inference.attacks import Attack, Budget
from ..reporting.plots import plot_snr
from ..reporting.report import markdown_table, mean_std, paired_difference


def summary(
    table: pd.DataFrame,
    moved: pd.DataFrame,
    corpus: str,
    attacks: list[Attack],
    budgets: list[Budget],
    seeds: list[int],
) -> list[str]:
    cols = [("clean", "clean")] + [(a.method, b.label) for a in attacks for b in budgets]
    head = [("clean" if m == "clean" else f"{m} {b}") for m, b in cols]
    pick = lambda t, v, m, b: t[(t["variant"] == v) & (t["attack"] == m) & (t["budget"] == b)]  # noqa: E731
    lines = [
        f"# {corpus}: UAR % under white-box attacks on the waveform",
        "",
        f"Mean ± std over LOSO folds and seeds ({', '.join(map(str, seeds))}) of the per-fold "
        f"UAR; each "
        "model attacked on its own test speaker. Budget: signal-to-perturbation ratio per "
        "utterance "
        "(L-infinity bound). " + "; ".join(f"{a.method}: " + describe(a) for a in attacks) + ".",
        "",
    ]
    variants = list(table["variant"].unique())
    lines += markdown_table(
        ["variant", *head],
        [[v] + [mean_std(pick(table, v, m, b)["uar"]) for m, b in cols] for v in variants],
    )
    if len(variants) > 1:
        lines += [
            "",
            f"Paired per-fold difference against {variants[0]} (points; mean ± standard error over "
            "folds, seeds averaged per fold first; folds better / worse):",
            "",
        ]
        rows = []
        for v in variants[1:]:
            cells = []
            for m, b in cols:
                d = paired_difference(pick(table, variants[0], m, b), pick(table, v, m, b))
                cells.append(
                    f"{100 * d['mean']:+.2f} ± {100 * d['se']:.2f} ({d['better']}/{d['worse']})"
                )
            rows.append([f"{v} - {variants[0]}", *cells])
        lines += markdown_table(["variant", *head], rows)
    if len(moved):
        made = [(m, b) for m, b in cols[1:] if m != "random"]
        lines += [
            "",
            "Transfer (black-box): examples made on the source's model of a fold, scored by the "
            "target's "
            "model of the same fold (UAR %, mean ± std over folds and seeds):",
            "",
        ]
        lines += markdown_table(
            ["source -> target", *(f"{m} {b}" for m, b in made)],
            [
                [
                    f"{source} -> {target}",
                    *(mean_std(pick(group, target, m, b)["uar"]) for m, b in made),
                ]
                for (source, target), group in moved.groupby(["source", "variant"], sort=False)
            ],
        )
    return lines


def describe(a: Attack) -> str:
    if a.method == "pgd":
        return f"{a.steps} steps of {a.step_size:g} times the bound" + (
            ", random start" if a.random_start else ""
        )
    return (
        "one step of the bound times the gradient's sign"
        if a.method == "fgsm"
        else "random sign times the bound per sample (noise, no gradient)"
    )


def plot(table: pd.DataFrame, budgets: list[Budget], path: Path, corpus: str) -> None:
    """UAR against the dB budgets (plain-epsilon budgets are in the tables only)."""
    in_db = {b.label: b.snr_db for b in budgets if b.snr_db is not None and math.isfinite(b.snr_db)}
    mean = table.groupby(["variant", "attack", "budget"], sort=False)["uar"].mean().reset_index()
    curves = []
    for (variant, method), group in mean[mean["attack"] != "clean"].groupby(
        ["variant", "attack"], sort=False
    ):
        clean = mean[(mean["variant"] == variant) & (mean["attack"] == "clean")]["uar"].iloc[0]
        curves.append({"variant": f"{variant} {method}", "snr": "clean", "uar": clean})
        curves += [
            {"variant": f"{variant} {method}", "snr": in_db[b], "uar": u}
            for b, u in zip(group["budget"], group["uar"], strict=True)
            if b in in_db
        ]
    plot_snr(
        pd.DataFrame(curves),
        path,
        f"{corpus}: white-box attacks",
        xlabel="signal-to-perturbation ratio (dB); dashed: clean",
    )
