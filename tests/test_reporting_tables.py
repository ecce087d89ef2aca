"""The scripts that print docs/results.md's tables, on small results folders of the real format
(written by report.summarise_loso, or as protocols/noise.py writes folds.csv), figures by hand."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from builders import tiny_cfg, write_audio

from mtl_aug.reporting import collapse, corrupt_cost, lone, tables
from mtl_aug.reporting.report import fold_summary, summarise_loso

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["anger", "boredom", "neutral"]


def _loso(folder: Path, uars: dict[int, list[float]]) -> None:
    """A LOSO results folder: folds 03 and 08, the given UAR per seed; every fold predicts
    targets [0, 1, 2, 0] as [0, 1, 2, 1] (pooled UAR (1/2 + 1 + 1) / 3 = 83.33 %)."""
    folds = pd.DataFrame(
        [
            {"seed": s, "fold": f, "uar": u, "wa": u, "n": 4, "val_uar": 0.5}
            for s, us in uars.items()
            for f, u in zip(["03", "08"], us, strict=True)
        ]
    )
    preds = pd.DataFrame(
        [
            {"seed": s, "fold": f, "utt_id": f"{f}_{i}", "target": t, "pred": p}
            for s in uars
            for f in ("03", "08")
            for i, (t, p) in enumerate(zip([0, 1, 2, 0], [0, 1, 2, 1], strict=True))
        ]
    )
    summarise_loso(folds, preds, CLASSES, folder, folder.name)


def test_loso_tables_per_seed_per_fold_and_confusions(tmp_path, capsys):
    _loso(tmp_path / "emodb" / "stl", {0: [0.5, 0.7], 1: [0.6, 0.9]})
    _loso(tmp_path / "emodb" / "mtl_aug", {0: [0.8, 0.6], 1: [0.6, 0.7]})
    assert tables.main(["loso", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| seed | STL | STL pooled | MTL-AUG | MTL-AUG pooled |" in out
    assert "| 0 | 60.00 | 83.33 | 70.00 | 83.33 |" in out
    assert "| 1 | 75.00 | 83.33 | 65.00 | 83.33 |" in out
    # per fold: the seeds' mean (min-max), MTL-AUG's mean minus STL's
    assert "| 03 | 4 | 55.0 (50.0-60.0) | 70.0 (60.0-80.0) | +15.0 |" in out
    assert "| 08 | 4 | 80.0 (70.0-90.0) | 65.0 (60.0-70.0) | -15.0 |" in out
    # MTL-AUG summed over 2 folds x 2 seeds: anger 4 of 8 recalled, 4 taken for boredom
    lines = out.splitlines()
    confusions = lines[lines.index("| emotion | recalled | most common confusions |") + 2 :]
    assert confusions == [
        "| boredom | 4/4 |  |",
        "| neutral | 4/4 |  |",
        "| anger | 4/8 | boredom 4 |",
    ]


def test_loso_tables_name_a_missing_folder(tmp_path, capsys):
    assert tables.main(["loso", str(tmp_path)]) == 2
    assert "seeds.csv not found" in capsys.readouterr().err


def test_noise_table_pairs_folds_per_snr(tmp_path, capsys):
    uars = {  # variant -> snr -> UAR of folds a, b, c
        "stl": {"clean": [0.8, 0.8, 0.8], 10.0: [0.5, 0.6, 0.7], 0.0: [0.3, 0.3, 0.3]},
        "mtl_aug": {"clean": [0.8, 0.9, 0.8], 10.0: [0.6, 0.6, 0.9], 0.0: [0.3, 0.3, 0.3]},
    }
    rows = [
        {"variant": v, "seed": 0, "fold": f, "snr": snr, "uar": u, "wa": u, "n": 5}
        for v, by in uars.items()
        for snr, us in by.items()
        for f, u in zip("abc", us, strict=True)
    ]
    folder = tmp_path / "background_noise"
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "folds.csv", index=False)  # as noise.py writes it
    assert tables.main(["noise", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    # 10 dB: UAR differences .1, 0, .2 (mean 10.00, se .1 / sqrt 3); lost .3 .2 .1 and
    # .2 .3 -.1; lost more -.1 .1 -.2: mean -6.67, std .1528, se 8.82
    assert out[2:] == [
        "| background_noise | 0 dB | +0.00 ± 0.00 | 0 | 50.00 / 53.33 | +3.33 ± 3.33 |",
        "| background_noise | 10 dB | +10.00 ± 5.77 | 2 | 20.00 / 13.33 | -6.67 ± 8.82 |",
    ]
    assert tables.main(["noise", str(folder), "--other", "portable"]) == 2
    assert "no variant portable" in capsys.readouterr().err


def test_paired_difference_of_two_results_folders(tmp_path):
    for name, by_seed in (
        ("stl", {0: [0.5, 0.6, 0.7], 1: [0.5, 0.6, 0.7]}),
        ("mtl_aug", {0: [0.6, 0.6, 0.9], 1: [0.4, 0.6, 0.5]}),
    ):
        d = tmp_path / name
        d.mkdir()
        pd.DataFrame(
            [
                {"seed": s, "fold": f, "uar": u, "wa": u, "n": 4}
                for s, us in by_seed.items()
                for f, u in zip(["03", "08", "09"], us, strict=True)
            ]
        ).to_csv(d / "folds.csv", index=False)
    # through `python -m`, as docs/results.md names it
    out = subprocess.run(
        [sys.executable, "-m", "mtl_aug.reporting.tables", "paired"]
        + [str(tmp_path / "stl"), str(tmp_path / "mtl_aug"), "--by-seed"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.splitlines()
    assert out == [
        "mtl_aug - stl, seeds averaged per fold: UAR +0.00 ± 0.00 points (3 folds; better on 0, "
        "worse on 0)",
        "mtl_aug - stl, seed 0: UAR +10.00 ± 5.77 points (3 folds; better on 2, worse on 0)",
        "mtl_aug - stl, seed 1: UAR -10.00 ± 5.77 points (3 folds; better on 0, worse on 2)",
    ]


def test_corruption_cost_prints_milliseconds_per_item(tmp_path, capsys):
    wav = write_audio(tmp_path / "a.wav", seconds=1.0)
    assert corrupt_cost.main(["--file", str(wav), "--items", "2"]) == 0
    assert re.fullmatch(r"\d+\.\d\d ms per item\n", capsys.readouterr().out)
    assert corrupt_cost.main(["--file", str(tmp_path / "missing.wav")]) == 2
    assert "missing.wav" in capsys.readouterr().err


def test_lone_file_paths_of_a_checkpoint(corpus, tmp_path, capsys, monkeypatch):
    """On a test speaker, `predict` grouped by speaker gives the evaluation path's UAR; the
    lone-file paths are figures of their own."""
    from mtl_aug.training.train import train_fold

    cfg = tiny_cfg(corpus, tmp_path / "runs", "speaker", train__max_epochs=1)
    ckpt = train_fold(cfg, "spk00", verbose=False)["checkpoint"]
    manifest = corpus / "synthetic_demo.csv"
    # the synthetic voices are not speech (some pass the check, some not): all judged, as the
    # evaluation path judges them
    args = [str(ckpt), str(manifest), "--speaker", "spk00", "--own", "--no-speech-check"]
    assert lone.main(args) == 0
    line = capsys.readouterr().out.strip()
    m = re.fullmatch(
        r"synthetic_demo spk00: eval ([\d.]+), lone ([\d.]+), grouped ([\d.]+), own ([\d.]+)", line
    )
    assert m, line
    assert m[1] == m[3]
    got = lone.path_uars(Path(ckpt), manifest, "spk00", check_speech=False)
    assert f"{100 * got['lone']:.2f}" == m[2] and set(got) == {"eval", "lone", "grouped"}
    # with the speech check, a file without speech is a miss on both predict paths (here: none)
    import mtl_aug.inference.predict as predict

    monkeypatch.setattr(predict, "speech_check", lambda wave, sr: predict.NO_SPEECH)
    checked = lone.path_uars(Path(ckpt), manifest, "spk00")
    assert checked["lone"] == checked["grouped"] == 0.0
    assert lone.main([str(ckpt), str(manifest), "--speaker", "nobody"]) == 2
    assert "no labelled utterance of speaker nobody" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["tables", "lone", "corrupt_cost", "collapse"])
def test_every_script_says_what_it_is_for(module, capsys):
    mod = {"tables": tables, "lone": lone, "corrupt_cost": corrupt_cost, "collapse": collapse}[
        module
    ]
    with pytest.raises(SystemExit):
        mod.main(["--help"])
    assert "usage: python -m mtl_aug.reporting." + module in capsys.readouterr().out


def test_loco_table_lists_each_held_out_corpus_per_variant_with_recall(built, capsys, tmp_path):
    """Two leave-one-corpus-out folders side by side (here one run under two variant names):
    one row per held-out corpus and folder with results.json's UAR and recall, and a mean row
    each."""
    import json
    import shutil

    loco = Path(built["cfg"].results_dir) / "loco" / "alpha+beta" / "multi"
    shutil.copytree(loco, tmp_path / "copy")
    assert tables.main(["loco", str(loco), str(tmp_path / "copy")]) == 0
    out = capsys.readouterr().out
    uars = []
    for row in pd.read_csv(loco / "corpora.csv").to_dict("records"):
        res = json.loads((Path(row["results"]) / "seed0" / "results.json").read_text())
        recall = " / ".join(f"{100 * r:.1f}" for r in res["recall"])
        for variant in ("multi", "copy"):
            line = f"| {row['test']} | {variant} | {100 * res['uar']:.2f} | {100 * res['wa']:.2f} "
            assert f"{line}| {recall} | {res['n']} |" in out
        uars.append(res["uar"])
    assert f"| mean | multi | {100 * sum(uars) / 2:.2f} |" in out
    assert tables.main(["loco", str(loco), "--seeds", "7"]) == 2
    assert "no results.json for seed 7" in capsys.readouterr().err


def test_loco_table_over_seeds_pairs_each_folder_with_the_first_by_seed(built, capsys, tmp_path):
    """Two seeds: each cell is the mean ± std over seeds, and a second folder is compared with
    the first seed by seed. Here the copy's seed 1 is its seed 0 with UAR 10 points higher, and
    the base's seed 1 is its seed 0 (one run, shown once): the copy leads by 0 and 10 points,
    5 ± 7.07."""
    import json
    import shutil

    loco = Path(built["cfg"].results_dir) / "loco" / "alpha+beta" / "multi"
    folders = {}
    for name, step in (("base", 0.0), ("copy", 0.1)):
        rows = pd.read_csv(loco / "corpora.csv")
        for i, row in rows.iterrows():
            run = tmp_path / name / row["test"]
            shutil.copytree(Path(row["results"]) / "seed0", run / "seed0")
            res = json.loads((run / "seed0" / "results.json").read_text())
            res["uar"] += step
            (run / "seed1").mkdir()
            (run / "seed1" / "results.json").write_text(json.dumps(res))
            rows.loc[i, "results"] = str(run)
        folders[name] = tmp_path / "loco" / name
        folders[name].mkdir(parents=True)
        rows.to_csv(folders[name] / "corpora.csv", index=False)
    argv = ["loco", str(folders["base"]), str(folders["copy"]), "--seeds", "0", "1"]
    assert tables.main(argv) == 0
    out = capsys.readouterr().out
    first = pd.read_csv(loco / "corpora.csv")["test"].iloc[0]
    res = json.loads((tmp_path / "base" / first / "seed0" / "results.json").read_text())
    # results equal for every seed (as the SVM's one run) are shown once, without a spread
    assert f"| {first} | base | {100 * res['uar']:.2f} | " in out
    assert f"| {first} | copy | {100 * res['uar'] + 5:.2f} ± 7.07 |" in out
    assert "copy - base, UAR points paired by seed (mean ± std over seeds 0, 1" in out
    assert f"{first} 5.00 ± 7.07 (1/2)" in out and "mean 5.00 ± 7.07 (1/2)" in out
    # folders holding out other corpora, or in another order, make no table
    rows = pd.read_csv(folders["copy"] / "corpora.csv")
    rows.iloc[::-1].to_csv(folders["copy"] / "corpora.csv", index=False)
    assert tables.main(argv) == 2
    assert "one table needs the same held-out corpora" in capsys.readouterr().err


@pytest.mark.parametrize("epochs,said", [(1, "; 1 epoch; "), (10, "; 10 epochs; ")])
def test_fold_summary_counts_epochs_in_english(tmp_path, epochs, said):
    result = {
        "corpus": "emodb",
        "variant": "stl",
        "seed": 0,
        "fold": "03",
        "last_val_uar": 0.5,
        "best_val_uar": 0.6,
        "val_speakers": ["08"],
        "epochs_trained": epochs,
        "checkpoint": "runs/x/last.ckpt",
    }
    assert said in fold_summary(result, tmp_path)
