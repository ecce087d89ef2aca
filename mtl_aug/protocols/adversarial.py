"""The adversarial protocol: each variant's LOSO models attacked on their own test speaker
(white-box, FGSM and PGD at each budget), plus the transfer of each variant's adversarial
examples to the other variants' models of the same fold."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import soundfile as sf
import torch
from tqdm import tqdm

from ..config import Config
from ..data.audio import load_audio
from ..data.datamodule import load_labelled
from ..data.folds import speakers
from ..errors import DataError
from ..inference.attacks import Attack, Budget, attack
from ..inference.evaluate import evaluate_frame, load_checkpoint
from .adversarial_report import plot, summary

log = logging.getLogger(__name__)

EXAMPLES = (
    2  # utterances of the first fold written as WAV per variant, attack and budget, to listen to
)


def run_adversarial(
    cfgs: list[Config],
    attacks: list[Attack],
    budgets: list[Budget],
    seeds: list[int],
    jobs: int = 1,
    train: bool = True,
) -> Path:
    """For each variant config (its LOSO trained first unless `train` is False), attack every
    fold's tested checkpoint on its test speaker at each budget, score the white-box examples on
    the model they were made on and on every other variant's model of that fold (transfer)."""
    from ..training.runs import check_same_config, fold_checkpoint, run_dir
    from .loso import check_distinct_variants, run_loso

    base = cfgs[0]
    check_distinct_variants(cfgs, "eval-adversarial")
    out = Path(base.results_dir) / "adversarial" / base.corpus
    df, _, _ = load_labelled(base)
    folds = speakers(df)
    runs = [(cfg, seed, s) for cfg in cfgs for seed in seeds for s in folds]
    for cfg, seed, s in runs:  # every variant's folders checked before any training or attack
        check_same_config(run_dir(cfg.replace(seed=seed), s), cfg.replace(seed=seed))
    missing = [
        run_dir(cfg.replace(seed=seed), s)
        for cfg, seed, s in runs
        if not (run_dir(cfg.replace(seed=seed), s) / "results.json").is_file()
    ]
    if missing and not train:
        raise DataError(
            f"{len(missing)} LOSO models are missing (e.g. {missing[0]}) and training was refused "
            "(--no-train): train them with make loso, or drop --no-train"
        )
    for cfg in cfgs:
        run_loso(cfg, seeds, jobs=jobs)
    out.mkdir(parents=True, exist_ok=True)
    sr = base.data.sample_rate
    rows, transfer = [], []
    bar = tqdm(
        total=len(seeds) * len(folds) * len(cfgs) * len(attacks) * len(budgets),
        desc="attacks",
        unit="attack",
    )
    settings = {
        "attacks": [vars(a) for a in attacks],
        "budgets": [b.label for b in budgets],
        "variants": [c.variant for c in cfgs],
    }
    for seed in seeds:
        for f, s in enumerate(folds):
            checkpoints = {}
            for cfg in cfgs:
                run_cfg = cfg.replace(seed=seed)
                checkpoints[cfg.variant] = fold_checkpoint(run_cfg, s)
            # a finished fold is kept and reused by a rerun with the same settings and the same
            # models
            made_with = {
                **settings,
                "models": {
                    v: [str(c.resolve()), c.stat().st_mtime_ns] for v, c in checkpoints.items()
                },
            }
            kept = out / "folds" / f"seed{seed}_{s}.json"
            if kept.is_file() and (k := json.loads(kept.read_text()))["settings"] == made_with:
                rows += k["rows"]
                transfer += k["transfer"]
                bar.update(len(cfgs) * len(attacks) * len(budgets))
                continue
            first = len(rows), len(transfer)
            test = df[df["speaker"] == s].reset_index(drop=True)
            waves = [load_audio(p, sr) for p in test["path"]]
            labels = torch.tensor(test["label"].to_numpy())
            models = {v: load_checkpoint(c) for v, c in checkpoints.items()}
            for variant, lit in models.items():
                r = evaluate_frame(lit, test)
                rows.append(_row(variant, seed, s, "clean", "clean", r))
            for a, how in enumerate(attacks):
                for b, budget in enumerate(budgets):
                    made = {}
                    for variant, lit in models.items():
                        made[variant] = attack(
                            lit,
                            waves,
                            labels,
                            [s] * len(waves),
                            budget,
                            how,
                            seed=((seed * 1009 + f) * 101 + a) * 101 + b,
                        )
                        r = evaluate_frame(lit, test, lambda w, i, adv=made[variant]: adv[i])
                        rows.append(_row(variant, seed, s, how.method, budget.label, r))
                        bar.update()
                        bar.set_postfix_str(
                            f"seed {seed} fold {s} {variant} {how.method} {budget.label}: "
                            f"UAR {r['uar']:.3f}"
                        )
                        if seed == seeds[0] and f == 0:
                            _write_examples(
                                out / "examples",
                                variant,
                                how.method,
                                budget,
                                test,
                                waves,
                                made[variant],
                                sr,
                            )
                    for (
                        source,
                        adv,
                    ) in made.items():  # random noise is the same for every model: no transfer
                        for target, lit in models.items():
                            if target != source and how.method != "random":
                                r = evaluate_frame(lit, test, lambda w, i, adv=adv: adv[i])
                                transfer.append(
                                    {
                                        **_row(target, seed, s, how.method, budget.label, r),
                                        "source": source,
                                    }
                                )
            kept.parent.mkdir(exist_ok=True)
            kept.write_text(
                json.dumps(
                    {
                        "settings": made_with,
                        "rows": rows[first[0] :],
                        "transfer": transfer[first[1] :],
                    }
                )
                + "\n"
            )
    bar.close()
    table, moved = pd.DataFrame(rows), pd.DataFrame(transfer)
    table.to_csv(out / "folds.csv", index=False)
    if len(moved):
        moved.to_csv(out / "transfer.csv", index=False)
    lines = summary(table, moved, base.corpus, attacks, budgets, seeds)
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    plot(table, budgets, out / "uar_vs_budget.png", base.corpus)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "attacks": [vars(a) for a in attacks],
                "budgets": [b.label for b in budgets],
                "seeds": seeds,
                "variants": [c.variant for c in cfgs],
                "table": table.groupby(["variant", "attack", "budget"], sort=False)["uar"]
                .mean()
                .reset_index()
                .to_dict(orient="records"),
            },
            indent=2,
        )
        + "\n"
    )
    log.info("\n".join(lines))
    return out


def _row(variant: str, seed: int, fold: str, method: str, budget: str, r: dict) -> dict:
    return {
        "variant": variant,
        "seed": seed,
        "fold": fold,
        "attack": method,
        "budget": budget,
        "uar": r["uar"],
        "wa": r["wa"],
        "n": r["n"],
    }


def _write_examples(
    folder: Path,
    variant: str,
    method: str,
    budget: Budget,
    test: pd.DataFrame,
    clean: list[torch.Tensor],
    adv: list[torch.Tensor],
    sr: int,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tag = budget.label.replace(" ", "")
    for i in range(
        min(EXAMPLES, len(adv))
    ):  # 32-bit float: 16-bit samples would round a 50 dB perturbation away
        utt = str(test["utt_id"].iloc[i]).replace("/", "_")
        sf.write(folder / f"{utt}_clean.wav", clean[i].numpy(), sr, subtype="FLOAT")
        sf.write(
            folder / f"{utt}_{variant}_{method}_{tag}.wav", adv[i].numpy(), sr, subtype="FLOAT"
        )
