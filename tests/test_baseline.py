"""The ComParE_2016 functionals + linear SVM baseline (mtl_aug/baseline/): the functionals, its
normalisations, and its runs on the network's protocols and result files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import REAL_DATA, requires_real_data, tiny_cfg, write_audio

from mtl_aug.baseline import features, svm
from mtl_aug.config import load_config
from mtl_aug.data.corpora import prepare_generic
from mtl_aug.data.corpora.synthetic import generate_synthetic
from mtl_aug.data.manifest import ROOT_TOKEN
from mtl_aug.errors import ConfigError

LOSO_FILES = {"folds.csv", "seeds.csv", "summary.md", "summary.json", "confusion.csv"}


def svm_cfg(manifests, tmp_path, *overlays, corpus="synthetic_demo", **sets):
    cfg = tiny_cfg(manifests, tmp_path / "runs", *(overlays or ["svm"]), corpus=corpus, **sets)
    return cfg.replace(results_dir=str(tmp_path / "results"))


def test_functionals_of_generated_files_are_the_6373_of_compare_2016(tmp_path):
    paths = [
        str(write_audio(tmp_path / f"{i}.wav", seconds=0.6, freq=f, sr=sr))
        for i, (f, sr) in enumerate([(180.0, 16000), (260.0, 44100)])
    ]
    x = features.extract(paths, 16000)
    assert x.shape == (2, features.N_FUNCTIONALS) == (2, 6373)
    assert np.isfinite(x).all() and not np.allclose(x[0], x[1])


@requires_real_data
def test_functionals_of_real_emodb_files():
    paths = [str(p) for p in sorted((REAL_DATA / "emodb" / "wav").glob("03a01*.wav"))[:2]]
    assert len(paths) == 2
    x = features.extract(paths, 16000)
    assert x.shape == (2, 6373) and np.isfinite(x).all()


def fake_functionals(paths) -> np.ndarray:
    """32 numbers from each file's bytes: the same for a copy of the file, wherever it is."""
    digests = [hashlib.sha256(Path(p).read_bytes()).digest() for p in paths]
    return np.frombuffer(b"".join(digests), np.uint8).astype(np.float32).reshape(len(paths), 32)


@pytest.fixture
def extracted(monkeypatch) -> list[str]:
    """features.extract replaced by fake_functionals; the files it was asked for, in order."""
    asked = []

    def extract(paths, sample_rate):
        asked.extend(paths)
        return fake_functionals(paths)

    monkeypatch.setattr(features, "extract", extract)
    return asked


def test_a_corpus_prepared_again_from_another_place_keeps_its_cached_functionals(
    tmp_path, extracted
):
    manifests = tmp_path / "manifests"
    csv = generate_synthetic(tmp_path / "here", speakers=2, per_emotion=1, seed=3)
    prepare_generic(csv, manifests / "demo.csv", corpus="demo")
    rows = pd.read_csv(manifests / "demo.csv")["path"]
    assert rows.str.startswith(f"{ROOT_TOKEN}/").all()
    cfg = svm_cfg(manifests, tmp_path, corpus="demo")
    df, _, x = features.labelled_functionals(cfg)
    assert len(extracted) == len(df) == 8 and np.array_equal(x, fake_functionals(df["path"]))
    here, there = (tmp_path / "here").resolve(), (tmp_path / "there").resolve()
    shutil.copytree(here, there)
    shutil.rmtree(here)  # the old absolute paths name nothing now
    prepare_generic(there / "corpus.csv", manifests / "demo.csv", corpus="demo")
    extracted.clear()
    moved, _, y = features.labelled_functionals(cfg)
    assert extracted == []  # no file read again
    assert list(moved["path"]) == [p.replace(str(here), str(there)) for p in df["path"]]
    assert np.array_equal(y, x)


def test_only_the_utterances_a_manifest_gains_are_extracted(tmp_path, extracted, capsys):
    manifests = tmp_path / "manifests"
    csv = generate_synthetic(tmp_path / "c", speakers=2, per_emotion=1, seed=3)
    prepare_generic(csv, manifests / "demo.csv", corpus="demo")
    cfg = svm_cfg(manifests, tmp_path, corpus="demo")
    old = features.cache_file(cfg, "demo")  # as the code before per-utterance rows wrote it
    old.parent.mkdir(parents=True)
    np.savez(old, x=np.zeros((8, 32), np.float32), paths=np.array(["a"] * 8), key=np.array("k"))
    capsys.readouterr()
    before, _, x = features.labelled_functionals(cfg)
    assert len(extracted) == 8 and np.array_equal(x, fake_functionals(before["path"]))
    assert "written by an older mtl_aug" in capsys.readouterr().out
    for i, emotion in enumerate(["angry", "happy", "sad"]):
        write_audio(csv.parent / "wav" / f"new_{i}.wav", seconds=0.5, freq=150.0 + 40 * i)
        with csv.open("a") as f:
            f.write(f"wav/new_{i}.wav,spk02,{emotion},F,2\n")
    prepare_generic(csv, manifests / "demo.csv", corpus="demo")
    extracted.clear()
    after, _, y = features.labelled_functionals(cfg)
    added = sorted(set(after["path"]) - set(before["path"]))
    assert len(added) == 3 and sorted(extracted) == added
    assert "demo: 3 of 11 utterances not in the feature cache" in capsys.readouterr().out
    assert np.array_equal(y, fake_functionals(after["path"]))  # each row its own file's
    extracted.clear()
    assert np.array_equal(features.labelled_functionals(cfg)[2], y) and extracted == []
    assert "feature cache" not in capsys.readouterr().out


def test_speaker_normalisation_uses_only_that_speakers_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5)) * [1, 10, 100, 1, 1] + [0, 5, -5, 0, 3]
    x[:, 3] = 7.0  # constant: becomes 0, not NaN
    spk = np.array(["a"] * 4 + ["b"] * 5 + ["c"] * 3)
    z = svm.speaker_normalised(x, spk)
    for s in "abc":
        rows = spk == s
        assert np.allclose(z[rows].mean(0), 0) and np.allclose(z[rows][:, [0, 1, 2, 4]].std(0), 1)
    other = x.copy()
    other[spk != "a"] *= 50  # another speaker's recordings change; a's normalised rows do not
    assert np.allclose(svm.speaker_normalised(other, spk)[spk == "a"], z[spk == "a"])
    assert np.allclose(z[:, 3], 0)


def test_corpus_normalisation_uses_only_the_training_rows():
    rng = np.random.default_rng(1)
    x, spk = rng.normal(size=(10, 4)), np.array(list("aaaabbbbcc"))
    train = spk != "c"
    z = svm.normalised(x, spk, train, "corpus")
    assert np.allclose(z[train].mean(0), 0)
    moved = x.copy()
    moved[~train] += 100  # the test rows are shifted, not used for the statistics
    assert np.allclose(
        svm.normalised(moved, spk, train, "corpus")[~train], z[~train] + 100 / x[train].std(0)
    )


@pytest.mark.parametrize("variant", ["svm", "svm_corpus"])
def test_loso_on_separable_generated_speech_writes_the_networks_result_files(
    corpus, tmp_path, variant
):
    from mtl_aug.protocols.loso import run_loso

    cfg = svm_cfg(corpus, tmp_path, variant)
    out = run_loso(cfg, [0])
    assert out == tmp_path / "results" / "synthetic_demo" / variant
    assert LOSO_FILES | {"confusion.png"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["folds_per_seed"] == 4 and summary["seeds"] == ["none"]
    assert summary["pooled_uar"] > 0.9, summary
    assert "Deterministic" in summary["note"]
    fold = tmp_path / "runs" / "synthetic_demo" / variant / "spk00"
    res = json.loads((fold / "results.json").read_text())
    assert res["normalise"] == ("speaker" if variant == "svm" else "corpus")
    assert res["val_speakers"] == ["spk01"] and res["c"] in cfg.baseline.c
    preds = pd.read_csv(fold / "predictions.csv")
    assert list(preds.columns) == ["utt_id", "speaker", "target", "pred"] + [
        f"p_{n}" for n in ("angry", "happy", "neutral", "sad")
    ]
    assert set(preds["speaker"]) == {"spk00"} and len(preds) == 12
    assert np.allclose(preds.filter(like="p_").sum(axis=1), 1, atol=1e-3)
    # a second run reads the cached functionals and the finished folds, whatever the network's
    # own settings (not read by the SVM); another C grid is refused
    features.extract = None  # would fail if called
    try:
        assert run_loso(cfg, [0, 1]) == out
        network = cfg.replace(
            corrupt=dataclasses.replace(cfg.corrupt, noise_prob=0.0),
            model=dataclasses.replace(cfg.model, dropout=0.1),
        )
        assert run_loso(network, [0]) == out
        with pytest.raises(ConfigError, match=r"baseline\.c: \[0\.0001"):
            run_loso(cfg.replace(baseline=dataclasses.replace(cfg.baseline, c=[1.0])), [0])
    finally:
        import importlib

        importlib.reload(features)


def test_cross_corpus_and_leave_one_corpus_out(corpus, tmp_path):
    from mtl_aug.protocols.cross import run_loco

    csv = generate_synthetic(tmp_path / "other", speakers=3, per_emotion=3, seed=5)
    prepare_generic(csv, corpus.parent / "m2" / "other.csv", corpus="other")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    for src in (corpus / "synthetic_demo.csv", corpus.parent / "m2" / "other.csv"):
        for suffix in (".csv", ".json"):
            (manifests / src.with_suffix(suffix).name).write_text(
                src.with_suffix(suffix).read_text()
            )
    cfg = svm_cfg(manifests, tmp_path)
    out = run_loco(cfg, ["synthetic_demo", "other"], [0])
    table = pd.read_csv(out / "corpora.csv")
    assert list(table["test"]) == ["synthetic_demo", "other"]
    cross = tmp_path / "results" / "cross" / "synthetic_demo_to_other" / "svm"
    assert {"results.json", "predictions.csv", "seeds.csv", "summary.md", "confusion.png"} <= {
        p.name for p in cross.iterdir()
    }
    res = json.loads((cross / "results.json").read_text())
    assert res["n"] == 36 and 0 <= res["uar"] <= 1
    # data.styles filters the training corpus only, as for the network: every test utterance
    for name, style in (("synthetic_demo", "improvised"), ("other", "scripted")):
        m = pd.read_csv(manifests / f"{name}.csv", dtype=str, keep_default_na=False)
        m.assign(style=style).to_csv(manifests / f"{name}.csv", index=False)
    from mtl_aug.protocols.cross import run_cross

    styled = cfg.replace(data=dataclasses.replace(cfg.data, styles=["improvised"]))
    out = run_cross(styled, "other", [0])
    assert json.loads((out / "results.json").read_text())["n"] == 36


def test_late_fusion_averages_the_networks_and_the_svms_probabilities(corpus, tmp_path):
    from mtl_aug.baseline.fusion import fuse_loso
    from mtl_aug.baseline.protocols import svm_run_dir
    from mtl_aug.protocols.loso import run_loso
    from mtl_aug.training.runs import run_dir

    svm_c = svm_cfg(corpus, tmp_path)
    run_loso(svm_c, [0])
    net = tiny_cfg(corpus, tmp_path / "runs").replace(results_dir=str(tmp_path / "results"))
    names = ["angry", "happy", "neutral", "sad"]
    for s in ("spk00", "spk01", "spk02", "spk03"):  # a stand-in network that always says sad
        p = pd.read_csv(svm_run_dir(svm_c, s) / "predictions.csv")
        p["pred"] = "sad"
        p[[f"p_{n}" for n in names]] = [0.1, 0.1, 0.1, 0.7]
        d = run_dir(net, s)
        d.mkdir(parents=True)
        p.to_csv(d / "predictions.csv", index=False)
        (d / "results.json").write_text(json.dumps({"val_uar": 0.25}))
    uar = {}
    for w in (0.0, 0.5, 1.0):
        out = fuse_loso(net, svm_c, [0], w)
        assert out.name == f"{net.variant}+svm_w{w:g}"
        uar[w] = json.loads((out / "summary.json").read_text())["pooled_uar"]
    assert uar[0.0] == 0.25  # the network alone: sad for everything
    svm_alone = pd.concat(
        pd.read_csv(svm_run_dir(svm_c, s) / "predictions.csv") for s in ("spk00", "spk01")
    )
    half = pd.concat(
        pd.read_csv(run_dir(net.replace(variant=f"{net.variant}+svm_w0.5"), s) / "predictions.csv")
        for s in ("spk00", "spk01")
    )
    cols = [f"p_{n}" for n in names]
    expected = 0.5 * svm_alone[cols].to_numpy() + 0.5 * np.array([0.1, 0.1, 0.1, 0.7])
    assert np.allclose(half[cols].to_numpy(), expected, atol=1e-4)
    assert uar[1.0] > 0.9  # the SVM's calibrated probabilities alone
    # nested: each fold's weight chosen on the other folds, never on its own labels
    nested = fuse_loso(net, svm_c, [0], None)
    assert nested.name == f"{net.variant}+svm_wnested"
    assert json.loads((nested / "summary.json").read_text())["pooled_uar"] > 0.9
    fused = net.replace(variant=nested.name)

    def chosen():
        return {
            s: json.loads((run_dir(fused, s) / "results.json").read_text())["fusion"]["weight"]
            for s in ("spk00", "spk01", "spk02", "spk03")
        }

    assert all(w > 0.5 for w in chosen().values())  # the SVM is the one that knows


def test_a_nested_fusion_weight_is_chosen_on_the_other_folds_only():
    """Fold a (100 utterances) is right by the network and wrong by the SVM, folds b and c (10
    each) the other way round: a's weight comes from b and c (the SVM's side of 0.5), b's from
    a and c (the network's side); ties go to the weight nearest 0.5."""
    from mtl_aug.baseline.fusion import _nested_weight

    def fold(n, network_right):
        target = ["x", "y"] * (n // 2)
        right = [(1.0, 0.0) if t == "x" else (0.0, 1.0) for t in target]
        wrong = [(q, p) for p, q in right]
        net, svm = (right, wrong) if network_right else (wrong, right)
        return pd.DataFrame(
            {
                "target": target,
                "p_x": [p[0] for p in net],
                "p_y": [p[1] for p in net],
                "p_x_svm": [p[0] for p in svm],
                "p_y_svm": [p[1] for p in svm],
            }
        )

    merged = {"a": fold(100, True), "b": fold(10, False), "c": fold(10, False)}
    assert _nested_weight(merged, "a", ["x", "y"]) == 0.55
    assert _nested_weight(merged, "b", ["x", "y"]) == 0.45


@pytest.mark.parametrize(
    "argv, what",
    [
        (["train", "--corpus", "emodb", "--config", "svm"], "training"),
        (["eval-noise", "--corpus", "emodb", "--noise", ".", "--variants", "svm"], "eval-noise"),
        (["eval-adversarial", "--corpus", "emodb", "--variants", "svm"], "eval-adversarial"),
        (["eval-predict", "--corpus", "emodb", "--config", "svm"], "eval-predict"),
    ],
)
def test_network_commands_refuse_the_svm_config_before_any_work(argv, what, tmp_path, capsys):
    from mtl_aug.cli import main

    assert main([*argv, "--set", f"data.manifest_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert f"{what} needs the network, and 'svm' is the SVM baseline" in err


def test_fusion_reads_the_svm_run_its_own_config_made(monkeypatch):
    """The network's overlays apply to the network only: the SVM's config is the one that
    `make loso CONFIG=svm` trained with, so its folds are found."""
    from mtl_aug.baseline import fusion
    from mtl_aug.cli import main

    seen = {}
    monkeypatch.setattr(
        fusion, "fuse_loso", lambda net, svm, seeds, w: seen.update(net=net, svm=svm)
    )
    assert main(["eval-fusion", "--corpus", "emodb", "--config", "stl", "--svm", "svm"]) == 0
    assert seen["net"].variant == "stl" and not seen["net"].baseline.svm
    assert seen["svm"].variant == "svm" and seen["svm"].baseline.svm
    assert seen["svm"] == load_config("emodb", ["svm"])
