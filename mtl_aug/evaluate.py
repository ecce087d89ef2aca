"""Evaluate trained checkpoints on any prepared corpus (optionally with added noise), and the
cross-corpus / cross-language and leave-one-corpus-out protocols."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from .audio import load_audio, pad_batch
from .data import load_labelled
from .errors import ConfigError, DataError
from .lit import LitMTLAug, check_checkpoint
from .manifest import apply_class_map, read_manifest
from .metrics import scores
from .train import confusion_table, tested_checkpoint, train_fold


def load_checkpoint(path: str | Path, device: str | None = None) -> LitMTLAug:
    check_checkpoint(path, advice="a file cut short by a full disk or an interrupted copy can be copied again; "
                                  "otherwise train the model again")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    lit = LitMTLAug.load_from_checkpoint(path, map_location=device)
    return lit.eval().to(device)


def speaker_stats(lit: LitMTLAug, waves: list[torch.Tensor], speakers: list[str]) -> torch.Tensor | None:
    """(N, 2, F) per-item statistics of the item's speaker when the model normalises per speaker."""
    if lit.logmel.normalise != "speaker":
        return None
    per = lit.logmel.speaker_stats(speakers, waves.__getitem__)
    return torch.stack([per[s] for s in speakers])


@torch.no_grad()
def predict_waves(lit: LitMTLAug, waves: list[torch.Tensor], batch_size: int = 16,
                  stats: torch.Tensor | None = None, speakers: list[str] | None = None) -> torch.Tensor:
    """Class probabilities (N, C) for 16 kHz waveforms, batched by similar length; `stats`
    (N, 2, F) are the speaker statistics for a model that normalises per speaker, and
    `speakers` (N,) group the embeddings for a model that centres them per speaker."""
    order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
    embedding = torch.zeros(len(waves), lit.cfg["model"]["embedding_dim"], device=lit.device)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        padded, lengths = pad_batch([waves[i] for i in idx])
        batch_stats = stats[idx].to(lit.device) if stats is not None else None
        feats, n = lit.logmel(padded.to(lit.device), lengths.to(lit.device), batch_stats)
        embedding[idx] = lit.model(feats, n, aux=False)["embedding"]
    codes = torch.from_numpy(pd.factorize(pd.Series(speakers))[0]) if speakers is not None else None
    return lit.model.emotion.classify(embedding, codes).softmax(-1).cpu()


def evaluate_frame(lit: LitMTLAug, df: pd.DataFrame, transform: Callable | None = None) -> dict:
    """Scores of `lit` on the labelled rows of `df`; `transform(wave, row_position)` alters the
    audio first (noise mixing). Speaker statistics, where used, come from the evaluated audio."""
    sr = lit.cfg["data"]["sample_rate"]
    waves = [load_audio(p, sr) for p in df["path"]]
    if transform is not None:
        waves = [transform(w, i) for i, w in enumerate(waves)]
    stats = speaker_stats(lit, waves, df["speaker"].tolist())
    probs = predict_waves(lit, waves, lit.cfg["data"]["batch_size"], stats, df["speaker"].tolist())
    targets = torch.tensor(df["label"].to_numpy())
    result = scores(probs.argmax(-1), targets, lit.num_classes)
    result.update(preds=probs.argmax(-1), probs=probs, targets=targets)
    return result


def labelled_for(lit: LitMTLAug, manifest: str | Path) -> pd.DataFrame:
    """A manifest's utterances mapped into the checkpoint's class set."""
    df = read_manifest(manifest)
    classes = lit.cfg["data"]["classes"]
    df, names, dropped = apply_class_map(df, classes)
    if names != lit.class_names:
        raise ConfigError(f"class set '{classes}' has changed since the checkpoint was trained")
    if df.empty:
        raise DataError(f"class set '{classes}' maps no utterance of {manifest}: "
                        f"cross-corpus evaluation needs a shared class set such as four_class")
    if dropped:
        print(f"{manifest}: {sum(dropped.values())} utterances outside '{classes}' dropped "
              f"({', '.join(f'{k} {v}' for k, v in sorted(dropped.items()))})")
    return df


def load_ensemble(checkpoints: list[str | Path]) -> list[LitMTLAug]:
    """Checkpoints whose probabilities are averaged: they must share the class set."""
    models = [load_checkpoint(c) for c in checkpoints]
    for c, m in zip(checkpoints[1:], models[1:]):
        if m.class_names != models[0].class_names:
            raise ConfigError(f"{c} predicts {m.class_names}, {checkpoints[0]} {models[0].class_names}: "
                              "an ensemble needs one class set")
    return models


def evaluate_checkpoint(checkpoints: list[str | Path], manifest: str | Path, out: Path | None = None) -> dict:
    """`mtl-aug evaluate`: a checkpoint (or several, their class probabilities averaged) on every
    utterance of a manifest; no retraining."""
    models = load_ensemble(checkpoints)
    lit = models[0]
    df = labelled_for(lit, manifest)
    probs = torch.stack([evaluate_frame(m, df)["probs"] for m in models]).mean(0)
    result = scores(probs.argmax(-1), torch.tensor(df["label"].to_numpy()), lit.num_classes)
    summary = {"checkpoints": [str(c) for c in checkpoints], "manifest": str(manifest), "class_names": lit.class_names,
               **{k: result[k] for k in ("uar", "wa", "recall", "confusion", "n")}}
    what = f"ensemble of {len(models)}: " if len(models) > 1 else ""
    print(f"{Path(manifest).stem}: {what}UAR {result['uar']:.4f}  WA {result['wa']:.4f}  ({result['n']} utterances)")
    print(confusion_table(result["confusion"], lit.class_names))
    if out is not None:
        from .report import plot_confusion
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
        plot_confusion(result["confusion"], lit.class_names, out / "confusion.png",
                       f"{Path(checkpoints[0]).parent.parent.name}{' +' if len(models) > 1 else ''} on {Path(manifest).stem}")
    return summary


def run_cross(cfg: dict, test_corpus: str, seeds: list[int]) -> Path:
    """Train on all speakers of cfg['corpus'] (validation speaker(s) held out of it), test on
    every utterance of `test_corpus`, one row per seed; returns the results folder."""
    from .report import mean_std, plot_confusion
    if test_corpus in cfg["corpus"].split("+"):
        raise ConfigError(f"{test_corpus} is among the training corpora ({cfg['corpus']}): a test on it "
                          "is not cross-corpus")
    # the test corpus must be prepared and map into the class set; data.styles filters training only
    load_labelled(dict(cfg, data=dict(cfg["data"], styles=None)), test_corpus)
    out = Path(cfg["results_dir"]) / "cross" / f"{cfg['corpus']}_to_{test_corpus}" / cfg["variant"]
    rows, confusion, checkpoints = [], None, []
    manifest = Path(cfg["data"]["manifest_dir"]) / f"{test_corpus}.csv"
    for seed in seeds:
        trained = train_fold(dict(cfg, seed=seed), all_speakers=True)
        checkpoints.append(tested_checkpoint(dict(cfg, seed=seed), trained))
        res = evaluate_checkpoint([checkpoints[-1]], manifest, out / f"seed{seed}")
        rows.append({"seed": seed, "uar": res["uar"], "wa": res["wa"], "n": res["n"], "val_uar": trained["val_uar"]})
        confusion = res["confusion"] if confusion is None else (torch.tensor(confusion) + torch.tensor(res["confusion"])).tolist()
        names = res["class_names"]
    table = pd.DataFrame(rows)
    table.to_csv(out / "seeds.csv", index=False)
    plot_confusion(confusion, names, out / "confusion.png", f"{cfg['corpus']} -> {test_corpus} ({cfg['variant']})")
    md = [f"# {cfg['corpus']} -> {test_corpus}, {cfg['variant']}", "",
          f"Trained on every speaker of {cfg['corpus']} (validation speakers held out of it), tested on every "
          f"utterance of {test_corpus}; classes {', '.join(names)}.", "",
          "| seeds | UAR (mean ± std over seeds) | WA (mean ± std over seeds) | utterances |", "|---|---|---|---|",
          f"| {', '.join(map(str, seeds))} | {mean_std(table['uar'])} | {mean_std(table['wa'])} | {rows[0]['n']} |"]
    if len(seeds) > 1:
        ens = evaluate_checkpoint(checkpoints, manifest, out / "ensemble")
        md += [f"| ensemble of {len(seeds)} (probabilities averaged) | {100 * ens['uar']:.2f} | {100 * ens['wa']:.2f} | "
               f"{ens['n']} |"]
    (out / "summary.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return out


def run_loco(cfg: dict, corpora: list[str], seeds: list[int]) -> Path:
    """Leave one corpus out: for each corpus, train on the union of the others and test on it
    (run_cross); one summary table over the held-out corpora."""
    from .report import mean_std
    if len(corpora) < 2 or len(set(corpora)) < len(corpora):
        raise ConfigError(f"leave-one-corpus-out needs two or more different corpora, got {corpora}")
    for c in corpora:                            # every manifest prepared and mapped before any training
        load_labelled(dict(cfg, data=dict(cfg["data"], styles=None)), c)
    rows = []
    for held_out in corpora:
        train = "+".join(c for c in corpora if c != held_out)
        out = run_cross(dict(cfg, corpus=train), held_out, seeds)
        table = pd.read_csv(out / "seeds.csv")
        rows.append({"test": held_out, "train": train, "uar": mean_std(table["uar"]), "wa": mean_std(table["wa"]),
                     "utterances": int(table["n"].iloc[0])})
    out = Path(cfg["results_dir"]) / "loco" / "+".join(corpora) / cfg["variant"]
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "corpora.csv", index=False)
    md = [f"# Leave one corpus out: {', '.join(corpora)} ({cfg['variant']})", "",
          f"UAR % and WA % (mean ± std over seeds {', '.join(map(str, seeds))}) on each held-out corpus, "
          "trained on the others.", "", "| held out | trained on | UAR | WA | utterances |", "|---|---|---|---|---|"]
    md += [f"| {r['test']} | {r['train']} | {r['uar']} | {r['wa']} | {r['utterances']} |" for r in rows]
    (out / "summary.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return out
