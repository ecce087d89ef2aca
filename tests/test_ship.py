"""The shipped model: `make model` (leave one corpus out, then all corpora, the card), the
checkpoint inside the package, and predict / serve using it when no checkpoint is given."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from mtl_aug.cli import main
from mtl_aug.data.manifest import read_manifest
from mtl_aug.errors import DataError
from mtl_aug.inference import shipped
from mtl_aug.inference.evaluate import load_checkpoint
from mtl_aug.inference.predict import predict_files
from mtl_aug.reporting.model_card import failure_modes


def test_build_model_ships_a_slim_copy_of_the_all_corpora_model(built):
    """The shipped file is the model trained on every corpus, without optimizer or loop state:
    smaller, and it predicts exactly as the run's checkpoint does."""
    from mtl_aug.training.runs import fold_checkpoint

    cfg = built["cfg"].replace(corpus="alpha+beta")
    source = fold_checkpoint(cfg, "all")
    content = torch.load(built["out"], map_location="cpu", weights_only=False)
    assert "optimizer_states" not in content and "loops" not in content
    assert built["out"].stat().st_size < source.stat().st_size
    lit = load_checkpoint(built["out"], "cpu")
    assert lit.cfg.corpus == "alpha+beta" and lit.class_names == built["meta"]["class_names"]
    files = [Path(f) for f in read_manifest(built["tmp"] / "m" / "alpha.csv")["path"][:3]]
    a, _ = predict_files(files, [built["out"]], check_speech=False)
    b, _ = predict_files(files, [source], check_speech=False)
    assert a == b and len(a) == 3


def test_card_holds_the_runs_figures(built):
    """Each held-out corpus's row is that leave-one-corpus-out run's UAR and per-class recall,
    then its UAR with the level aligned (the `_level` run); the training table counts the
    all-corpora model's training speakers and utterances; the training level is the model's."""
    text = built["card"].read_text()
    loco = Path(built["cfg"].results_dir) / "loco" / "alpha+beta"
    rows = pd.read_csv(loco / "multi" / "corpora.csv").to_dict("records")
    aligned = pd.read_csv(loco / "multi_level" / "corpora.csv").to_dict("records")
    for row, level in zip(rows, aligned, strict=True):
        res = json.loads((Path(row["results"]) / "seed0" / "results.json").read_text())
        moved = json.loads((Path(level["results"]) / "seed0" / "results.json").read_text())
        recall = " / ".join(f"{100 * r:.1f}" for r in res["recall"])
        assert (
            f"| {row['test']} | {100 * res['uar']:.1f} | {100 * res['wa']:.1f} | {recall} "
            f"| {100 * moved['uar']:.1f} |" in text
        )
    level = load_checkpoint(built["out"], "cpu").training_level
    assert f"utterances): {level:.1f} dBFS; `predict --align-level`" in text
    meta = built["meta"]
    assert set(meta["corpora"]) == {"alpha", "beta"}
    val = len(meta["val_speakers"])
    assert sum(c["speakers"] for c in meta["corpora"].values()) == 8 - val
    assert "`--config multi`" in text and "seed 0" in text
    assert "| alpha | ? |" in text and "research" not in text  # corpora the card does not know
    assert "alpha, beta: licence not known to this card" in text


def test_failure_modes_name_the_weak_class_and_the_dominant_answer():
    names = ["angry", "happy", "neutral", "sad"]
    run = {
        "test": "x",
        "class_names": names,
        "recall": [0.9, 0.5, 0.1, None],
        "confusion": [[9, 0, 0, 1], [0, 5, 0, 5], [0, 1, 1, 8], [0, 0, 0, 0]],
    }
    lines = failure_modes([run])
    assert lines == [
        "- x: neutral recalled 10.0 %; 8 of its 10 utterances answered sad",
    ]
    run["confusion"] = [[1, 0, 0, 9], [0, 5, 0, 5], [0, 1, 1, 8], [0, 0, 0, 0]]
    run["recall"] = [0.1, 0.5, 0.1, None]
    assert "- x: 22 of 30 utterances answered sad" in failure_modes([run])


def test_predict_uses_the_shipped_model_when_no_checkpoint_is_given(
    checkpoints, speech, monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(shipped, "SHIPPED", shipped.SHIPPED.parent / "absent.ckpt")
    with pytest.raises(DataError, match="no model ships at .*absent.ckpt: give --checkpoint"):
        shipped.checkpoints_or_shipped(None)
    monkeypatch.setattr(shipped, "SHIPPED", type(shipped.SHIPPED)(checkpoints["defaults"]))
    main(["predict", str(speech[0]), "--no-speech-check", "--out", str(tmp_path / "p.csv")])
    got = capsys.readouterr()
    assert "model: the shipped one" in got.err + got.out
    row = pd.read_csv(tmp_path / "p.csv")
    expected, _ = predict_files([speech[0]], [checkpoints["defaults"]], check_speech=False)
    assert row["pred"].tolist() == [expected[0]["pred"]]


def test_the_shipped_model_is_in_the_package_and_predicts_real_speech(real_data, tmp_path):
    """A fresh clone predicts with no training: the package holds the model the card
    describes (its corpora, classes and size)."""
    assert shipped.SHIPPED.is_file(), "the shipped model is missing: make model"
    lit = load_checkpoint(shipped.SHIPPED, "cpu")
    card = (shipped.SHIPPED.parents[2] / "docs" / "model_card.md").read_text()
    assert f"({shipped.SHIPPED.stat().st_size / 1e6:.1f} MB)" in card
    for corpus in lit.cfg.corpus.split("+"):
        assert f"| {corpus} |" in card
    assert lit.class_names == ["angry", "happy", "neutral", "sad"]
    wav = sorted((real_data / "emodb" / "wav").glob("03a01W*.wav"))[0]
    main(["predict", str(wav), "--out", str(tmp_path / "p.csv")])
    row = pd.read_csv(tmp_path / "p.csv")
    assert row["pred"].iloc[0] in lit.class_names and bool(row["speech"].iloc[0])
