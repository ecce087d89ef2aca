"""The tables of docs/results.md, printed from the results folders that the protocols write.

    python -m mtl_aug.reporting.tables loso results [--variants stl mtl_aug]
        per seed (seeds.csv), per fold (folds.csv: the seeds' mean and range) and the summed
        confusions of the last variant (confusion.csv), from results/<corpus>/<variant>/
    python -m mtl_aug.reporting.tables noise results/noise/emodb/background_noise ...
        the noise protocol's folds.csv, paired per fold: UAR at each SNR and UAR lost from clean
    python -m mtl_aug.reporting.tables paired results/emodb/stl results/emodb/mtl_aug [--by-seed]
        the paired per-fold UAR difference of two LOSO results folders (seeds averaged per fold,
        or seed k against seed k)
    python -m mtl_aug.reporting.tables loco results/loco/<corpora>/multi results/loco/<...>/svm
        leave-one-corpus-out folders side by side: per held-out corpus and variant, UAR, WA and
        each class's recall (--seeds 0 1 ...: mean ± std over a network's seeds; the SVM's one
        run), each further folder paired with the first by seed

Every difference is paired per fold: each fold's UAR averaged over its seeds first, then mean
± standard error (std with ddof=1 over sqrt(folds)) over the folds (report.paired_difference).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .report import markdown_table, mean_std, paired_difference, percent

LABELS = {"stl": "STL", "stl_aug": "STL-AUG", "mtl_aug": "MTL-AUG"}
CONFUSION_SHARE = 0.08  # a confusion is listed when it takes at least this share of an emotion


def _label(variant: str) -> str:
    return LABELS.get(variant, variant)


def _read(path: Path, **kwargs) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path} not found: run the protocol that writes it first (make loso ...)")
    return pd.read_csv(path, **kwargs)


def _folds(folder: Path) -> pd.DataFrame:
    """A results folder's folds.csv; fold names stay strings ('03', not 3)."""
    return _read(Path(folder) / "folds.csv", dtype={"fold": str})


def seed_table(dirs: dict[str, Path]) -> list[str]:
    """Per seed, each variant's UAR mean over folds and pooled UAR (seeds.csv)."""
    seeds = {v: _read(d / "seeds.csv").set_index("seed") for v, d in dirs.items()}
    first = next(iter(seeds.values()))
    keys = ("uar_mean", "pooled_uar")
    header = ["seed"] + [f"{_label(v)}{p}" for v in dirs for p in ("", " pooled")]
    rows = [
        [seed] + [f"{100 * s.loc[seed, k]:.2f}" for s in seeds.values() for k in keys]
        for seed in first.index
    ]
    return markdown_table(header, rows)


def fold_table(dirs: dict[str, Path]) -> list[str]:
    """Per fold (test speaker): utterances, each variant's UAR mean over seeds (min-max), and
    the last variant's mean minus the first's."""
    folds = {v: _folds(d) for v, d in dirs.items()}
    stats = {
        v: f.assign(uar=100 * f["uar"]).groupby("fold")["uar"].agg(["mean", "min", "max"])
        for v, f in folds.items()
    }
    first, last = list(dirs)[0], list(dirs)[-1]
    n = folds[first].groupby("fold")["n"].first()
    header = ["test speaker", "utterances"] + [f"{_label(v)} UAR %" for v in dirs] + ["difference"]
    rows = []
    for fold in n.index:
        cells = [
            f"{g.loc[fold, 'mean']:.1f} ({g.loc[fold, 'min']:.1f}-{g.loc[fold, 'max']:.1f})"
            for g in stats.values()
        ]
        diff = stats[last].loc[fold, "mean"] - stats[first].loc[fold, "mean"]
        rows.append([fold, n[fold], *cells, f"{diff:+.1f}"])
    return markdown_table(header, rows)


def confusion_rows(folder: Path) -> list[str]:
    """confusion.csv (summed over folds and seeds): each emotion's recalled / total, best
    recalled first, and the confusions of at least CONFUSION_SHARE of it, largest first."""
    m = _read(Path(folder) / "confusion.csv", index_col=0)
    rows = []
    for e in sorted(m.index, key=lambda e: -m.loc[e, e] / m.loc[e].sum()):
        total = m.loc[e].sum()
        off = m.loc[e].drop(e).sort_values(ascending=False, kind="stable")
        big = [f"{k} {v}" for k, v in off.items() if v >= CONFUSION_SHARE * total]
        rows.append([e, f"{m.loc[e, e]}/{total}", ", ".join(big)])
    return markdown_table(["emotion", "recalled", "most common confusions"], rows)


def loso_tables(results: Path, corpus: str = "emodb", variants=("stl", "mtl_aug")) -> str:
    dirs = {v: Path(results) / corpus / v for v in variants}
    return "\n\n".join(
        "\n".join(t)
        for t in (seed_table(dirs), fold_table(dirs), confusion_rows(dirs[variants[-1]]))
    )


def _se(p: dict) -> str:
    return f"{100 * p['mean']:+.2f} ± {100 * p['se']:.2f}"


def noise_rows(folder: Path, base: str = "stl", other: str = "mtl_aug") -> list[list]:
    """One noise folder's folds.csv (variant, seed, fold, snr, uar): per SNR, `other` - `base`
    in UAR, the folds where `other` is better, the UAR each lost from clean, and how much more
    `other` lost (negative: it lost less)."""
    folds = _folds(folder).astype({"snr": str})
    missing = {base, other} - set(folds["variant"])
    if missing:
        raise DataError(f"{folder}/folds.csv has no variant {', '.join(sorted(missing))}")
    at = {(v, s): g for (v, s), g in folds.groupby(["variant", "snr"])}
    rows = []
    for snr in sorted({s for s in folds["snr"] if s != "clean"}, key=float):
        u = paired_difference(at[base, snr], at[other, snr])
        lost = {}
        for v in (base, other):
            clean = at[v, "clean"].set_index(["seed", "fold"])["uar"]
            noisy = at[v, snr].set_index(["seed", "fold"])["uar"]
            lost[v] = (clean - noisy).rename("uar").reset_index()
        more = paired_difference(lost[base], lost[other])
        mean_lost = [100 * lost[v].groupby("fold")["uar"].mean().mean() for v in (base, other)]
        rows.append(
            [
                Path(folder).name,
                f"{float(snr):g} dB",
                _se(u),
                u["better"],
                " / ".join(f"{x:.2f}" for x in mean_lost),
                _se(more),
            ]
        )
    return rows


def noise_table(folders: list[Path], base: str = "stl", other: str = "mtl_aug") -> str:
    b, o = _label(base), _label(other)
    header = [
        "noise",
        "SNR",
        f"{o} - {b}, UAR",
        "folds better",
        f"UAR lost from clean: {b} / {o}",
        f"{o} loses more by",
    ]
    rows = [r for f in folders for r in noise_rows(f, base, other)]
    return "\n".join(markdown_table(header, rows))


def paired_lines(base: Path, other: Path, by_seed: bool = False) -> str:
    """`other` - `base` paired per fold (seeds averaged per fold), and with `by_seed` also seed k
    of one against seed k of the other, for the seeds both have."""
    a, b = _folds(base), _folds(other)
    name = f"{Path(other).name} - {Path(base).name}"

    def line(what: str, p: dict) -> str:
        return (
            f"{name}, {what}: UAR {_se(p)} points ({p['n']} folds; better on {p['better']}, "
            f"worse on {p['worse']})"
        )

    lines = [line("seeds averaged per fold", paired_difference(a, b))]
    if by_seed:
        for seed in sorted(set(a["seed"]) & set(b["seed"])):
            p = paired_difference(a[a["seed"] == seed], b[b["seed"] == seed])
            lines.append(line(f"seed {seed}", p))
    return "\n".join(lines)


def cross_result(folder: Path, seed: int) -> dict:
    """A cross-corpus run's results.json: the network's per seed, the SVM's one."""
    for path in (Path(folder) / f"seed{seed}" / "results.json", Path(folder) / "results.json"):
        if path.is_file():
            return json.loads(path.read_text())
    raise DataError(f"no results.json for seed {seed} in {folder}: run its eval-cross first")


def loco_results(folder: Path, seed: int = 0) -> list[dict]:
    """An eval-loco folder's held-out corpora in order: each one's results.json (cross_result)
    with `test` and `train` (the corpora it was trained on) added."""
    return [
        {"test": r["test"], "train": r["train"], **cross_result(Path(r["results"]), seed)}
        for r in _read(Path(folder) / "corpora.csv").to_dict("records")
    ]


def loco_table(folders: list[Path], seeds: list[int] = (0,)) -> str:
    """Per held-out corpus, one row per leave-one-corpus-out folder: UAR (mean ± std over
    `seeds`), WA, recall per class (means over seeds) and utterances; then each folder's mean UAR
    over the held-out corpora (± std over seeds of that mean); a folder whose results are the
    same for every seed (the SVM's one run) shows that run. With two or more folders, each
    against the first, paired by seed: per held-out corpus the UAR difference (mean ± std over
    seeds) and the seeds on which it is ahead, and the same for the mean."""
    runs = {Path(f).name: [loco_results(f, s) for s in seeds] for f in folders}
    if len(runs) < len(folders):
        raise DataError(
            f"two folders share a name (the table's label): {', '.join(map(str, folders))}"
        )
    tests = {v: [r["test"] for r in per[0]] for v, per in runs.items()}
    first, expected = next(iter(tests.items()))
    for v, held in tests.items():
        if held != expected:
            raise DataError(
                f"{v} holds out {', '.join(held)}, {first} {', '.join(expected)}: one table "
                "needs the same held-out corpora in the same order"
            )
    # the SVM's one deterministic run answers for every seed: its cells show that run alone
    runs = {v: per if any(p != per[0] for p in per) else per[:1] for v, per in runs.items()}
    uar = {v: np.array([[r["uar"] for r in held] for held in per]) for v, per in runs.items()}
    rows = []
    for i, res in enumerate(runs[first][0]):
        for variant, per in runs.items():
            recall = np.array([held[i]["recall"] for held in per], dtype=float)  # None: NaN
            rows.append(
                [
                    res["test"],
                    _label(variant),
                    mean_std(uar[variant][:, i]),
                    f"{100 * np.mean([held[i]['wa'] for held in per]):.2f}",
                    " / ".join(percent(None if np.isnan(x) else x) for x in recall.mean(0)),
                    res["n"],
                ]
            )
    rows += [["mean", _label(v), mean_std(u.mean(1)), "", "", ""] for v, u in uar.items()]
    names = runs[first][0][0]["class_names"]
    header = ["held out", "variant", "UAR %", "WA %", f"recall {' / '.join(names)} %", "utts"]
    lines = markdown_table(header, rows)
    for other in list(runs)[1:]:
        diff = uar[other] - uar[first]  # (seeds, corpora); a one-run folder against each seed
        cells = [
            f"{test} {mean_std(d)} ({int((d > 0).sum())}/{len(d)})"
            for test, d in zip(
                [r["test"] for r in runs[first][0]] + ["mean"],
                [*diff.T, diff.mean(1)],
                strict=True,
            )
        ]
        lines += [
            "",
            f"{_label(other)} - {_label(first)}, UAR points paired by seed (mean ± std over "
            f"seeds {', '.join(map(str, seeds))}; seeds ahead): " + ", ".join(cells),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mtl_aug.reporting.tables",
        description="print the tables of docs/results.md from results folders",
    )
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("loso", help="per-seed, per-fold and confusion tables of LOSO runs")
    p.add_argument("results", type=Path, help="the results folder (results_dir), e.g. results")
    p.add_argument("--corpus", default="emodb", help="the corpus folder under it")
    p.add_argument(
        "--variants", nargs="+", default=["stl", "mtl_aug"], help="variants side by side"
    )
    p = sub.add_parser("noise", help="the noise protocol paired per fold, per SNR")
    p.add_argument("folders", nargs="+", type=Path, help="results/noise/<corpus>/<noise> folders")
    p.add_argument("--base", default="stl", help="the variant compared against")
    p.add_argument("--other", default="mtl_aug", help="the variant compared")
    p = sub.add_parser("paired", help="paired per-fold difference of two LOSO results folders")
    p.add_argument("base", type=Path, help="results folder compared against")
    p.add_argument("other", type=Path, help="results folder compared")
    p.add_argument("--by-seed", action="store_true", help="also seed k against seed k")
    p = sub.add_parser("loco", help="leave-one-corpus-out folders side by side, per class")
    p.add_argument("folders", nargs="+", type=Path, help="results/loco/<corpora>/<variant>")
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="the networks' seeds (mean ± std)"
    )
    args = parser.parse_args(argv)
    try:
        if args.what == "loso":
            print(loso_tables(args.results, args.corpus, args.variants))
        elif args.what == "loco":
            print(loco_table(args.folders, args.seeds))
        elif args.what == "noise":
            print(noise_table(args.folders, args.base, args.other))
        else:
            print(paired_lines(args.base, args.other, args.by_seed))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
