"""The noise-robustness protocol: LOSO models on their speaker mixed with noise at each SNR."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from ..config import Config
from ..data.datamodule import load_labelled
from ..data.folds import speakers
from ..data.mixing import NoiseBank
from ..errors import ConfigError
from ..inference.evaluate import evaluate_frame, load_checkpoint
from ..reporting.plots import plot_snr
from ..reporting.report import markdown_table, mean_std

log = logging.getLogger(__name__)


def run_noise(
    cfgs: list[Config], noise_dir: Path, snrs: list[float], seeds: list[int], jobs: int = 1
) -> Path:
    """For each variant config (trained LOSO first where missing, resumably), test every fold's
    tested checkpoint on its test speaker clean and mixed with noise at each SNR."""
    from ..training.runs import fold_checkpoint
    from .loso import check_distinct_variants, run_loso

    base = cfgs[0]
    check_distinct_variants(cfgs, "eval-noise")
    test_noise = Path(noise_dir).resolve()
    for cfg in cfgs:
        for folder in (Path(f).resolve() for f in cfg.corrupt.noise_dirs):
            if folder == test_noise or test_noise in folder.parents or folder in test_noise.parents:
                raise ConfigError(
                    f"{cfg.variant}: corrupt.noise_dirs trains on {folder}, which overlaps the "
                    f"test noise {test_noise}: the noise would not be unseen"
                )
    out = Path(base.results_dir) / "noise" / base.corpus / Path(noise_dir).name
    out.mkdir(parents=True, exist_ok=True)
    df, _, _ = load_labelled(base)
    keys = {u: i for i, u in enumerate(sorted(df["utt_id"]))}
    checked = NoiseBank(noise_dir, seeds[0], base.data.sample_rate)  # files checked before training
    banks = {seed: checked.with_seed(seed) for seed in seeds}
    rows = []
    for cfg in cfgs:
        run_loso(cfg, seeds, jobs=jobs)
        for seed in seeds:
            bank = banks[seed]
            for s in speakers(df):
                run_cfg = cfg.replace(seed=seed)
                lit = load_checkpoint(fold_checkpoint(run_cfg, s))
                test = df[df["speaker"] == s].reset_index(drop=True)
                test_keys = [keys[u] for u in test["utt_id"]]
                for snr in ["clean", *snrs]:
                    mix = None if snr == "clean" else bank.mixer(float(snr), test_keys)
                    r = evaluate_frame(lit, test, mix)
                    rows.append(
                        {
                            "variant": cfg.variant,
                            "seed": seed,
                            "fold": s,
                            "snr": snr,
                            "uar": r["uar"],
                            "wa": r["wa"],
                            "n": r["n"],
                        }
                    )
                    log.info(f"{cfg.variant} seed {seed} fold {s} SNR {snr}: UAR {r['uar']:.4f}")
    table = pd.DataFrame(rows)
    table.to_csv(out / "folds.csv", index=False)
    mean = table.groupby(["variant", "snr"], sort=False)["uar"].agg(["mean", "std"]).reset_index()
    plot_snr(
        mean.rename(columns={"mean": "uar"}),
        out / "uar_vs_snr.png",
        f"{base.corpus} + {Path(noise_dir).name} noise",
    )
    cols = ["clean", *snrs]
    lines = [
        f"# {base.corpus}: UAR % by SNR ({Path(noise_dir).name} noise)",
        "",
        "Mean ± std over LOSO folds (and seeds) of the per-fold UAR; models trained as their "
        "configs say (`corrupt`: coloured noise and reverberation on training audio by default), "
        "without this noise.",
        "",
    ]
    lines += markdown_table(
        ["variant"] + [f"{c:g} dB" if c != "clean" else "clean" for c in cols],
        [
            [v]
            + [mean_std(table[(table["variant"] == v) & (table["snr"] == c)]["uar"]) for c in cols]
            for v in table["variant"].unique()
        ],
    )
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(
        json.dumps(
            {
                "noise": str(noise_dir),
                "snrs": snrs,
                "seeds": seeds,
                "table": mean.to_dict(orient="records"),
            },
            indent=2,
        )
        + "\n"
    )
    log.info("\n".join(lines))
    return out
