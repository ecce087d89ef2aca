"""The plots of the protocols' summaries: a confusion matrix, UAR against SNR or budget."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_confusion(confusion, names: list[str], path: Path, title: str) -> None:
    c = np.asarray(confusion, dtype=float)
    rows = c / np.clip(c.sum(1, keepdims=True), 1, None)
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2, 1.0 * len(names) + 1.5))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                f"{int(c[i, j])}\n{100 * rows[i, j]:.0f}%",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if rows[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_snr(
    table: pd.DataFrame, path: Path, title: str, xlabel: str = "SNR (dB); dashed: clean"
) -> None:
    """`table`: columns variant, snr (number or 'clean'), uar."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for variant, group in table.groupby("variant"):
        noisy = group[group["snr"] != "clean"].copy()
        noisy["snr"] = noisy["snr"].astype(float)
        noisy = noisy.sort_values("snr")
        (line,) = ax.plot(noisy["snr"], 100 * noisy["uar"], marker="o", label=variant)
        clean = group[group["snr"] == "clean"]
        if len(clean):
            ax.axhline(100 * clean["uar"].iloc[0], color=line.get_color(), ls="--", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("UAR (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
