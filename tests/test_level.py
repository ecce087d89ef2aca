"""Recording level (data/level.py): the active level, one gain for a group of recordings, the
training level a checkpoint stores, and --align-level in predict and the cross-corpus
evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from mtl_aug.cli import main
from mtl_aug.data.audio import LogMel, load_audio
from mtl_aug.data.level import (
    MIN_ALIGNED,
    active_level,
    align_gain,
    median_level,
    require_level,
    scaled,
)
from mtl_aug.data.manifest import read_manifest
from mtl_aug.errors import DataError
from mtl_aug.inference.evaluate import evaluate_frame, labelled_for, load_checkpoint
from mtl_aug.inference.predict import predict_files
from mtl_aug.training.store_level import store_level


def _tone(amplitude: float, seconds: float = 1.0) -> torch.Tensor:
    return amplitude * torch.sin(torch.arange(int(16000 * seconds)) * 2 * torch.pi * 200 / 16000)


def test_active_level_ignores_silence_and_follows_gain():
    tone = _tone(0.1)
    padded = torch.cat([torch.zeros(32000), tone, torch.zeros(32000)])
    assert abs(active_level(padded) - active_level(tone)) < 0.5
    assert abs(active_level(tone) - (-23.0)) < 0.5  # 0.1 / sqrt(2) = -23 dBFS
    assert abs(active_level(0.5 * tone) - active_level(tone) + 6.02) < 0.1


def test_one_gain_moves_the_median_and_keeps_the_differences():
    waves = [_tone(a) for a in np.geomspace(0.01, 0.3, MIN_ALIGNED + 1)]
    gain = align_gain([active_level(w) for w in waves], -20.0, "test")
    moved = scaled(waves, gain)
    assert abs(median_level(moved) - -20.0) < 0.01
    spread = [active_level(b) - active_level(a) for a, b in zip(waves, waves[1:], strict=False)]
    kept = [active_level(b) - active_level(a) for a, b in zip(moved, moved[1:], strict=False)]
    assert np.allclose(spread, kept, atol=1e-3)
    with pytest.raises(DataError, match=f"at least {MIN_ALIGNED} recordings, got 3"):
        align_gain([-20.0, -30.0, -40.0], -20.0, "three files")
    with pytest.raises(DataError, match="store_level old.ckpt"):
        require_level("old.ckpt", float("nan"))


def test_fit_stores_the_median_level_of_the_training_items():
    waves = [_tone(a) for a in (0.01, 0.05, 0.2)]
    logmel = LogMel(16000, 40, 400, 160, 20.0, 8000.0, normalise="corpus")
    assert math.isnan(float(logmel.level))
    logmel.fit(waves.__getitem__, len(waves))
    assert float(logmel.level) == pytest.approx(active_level(waves[1]), abs=1e-4)


def _files(paths: list[Path], out: Path, gain_db: float) -> list[Path]:
    """Float WAV copies of `paths` with one gain (no quantisation: copies differ by the gain)."""
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for p in paths:
        copies.append(out / p.name)
        sf.write(copies[-1], (load_audio(p) * 10 ** (gain_db / 20)).numpy(), 16000, "FLOAT")
    return copies


def test_predict_align_level_is_deaf_to_the_recording_gain(built, tmp_path):
    """The shipped-style model stores its training level; with --align-level, a folder
    recorded 12 dB quieter is predicted as the folder itself, and without, it is not."""
    model = built["out"]
    lit = load_checkpoint(model, "cpu")
    assert -60 < lit.training_level < 0
    beta = read_manifest(Path(built["cfg"].data.manifest_dir) / "beta.csv")["path"].map(Path)
    same = _files(list(beta[:12]), tmp_path / "same", 0.0)
    quiet = _files(list(beta[:12]), tmp_path / "quiet", -12.0)

    def probs(paths, align):
        rows, errors = predict_files(paths, [model], check_speech=False, align_level=align)
        assert not errors
        return torch.tensor([[v for k, v in r.items() if k.startswith("p_")] for r in rows])

    aligned = probs(same, True)
    assert torch.allclose(probs(quiet, True), aligned, atol=1e-4)
    # onto the training level itself: the same files moved there by hand, predicted as they are
    gain = lit.training_level - median_level([load_audio(p) for p in quiet])
    assert torch.allclose(probs(_files(quiet, tmp_path / "moved", gain), False), aligned, atol=1e-4)
    # an ensemble moves the files once per model (here twice the same model: the same answer)
    rows, _ = predict_files(quiet, [model, model], check_speech=False, align_level=True)
    both = torch.tensor([[v for k, v in r.items() if k.startswith("p_")] for r in rows])
    assert torch.allclose(both, aligned, atol=1e-4)
    # the tiny model's answers move little with the level, but ten times the tolerance above
    assert (probs(quiet, False) - aligned).abs().max() > 1e-3
    with pytest.raises(DataError, match=f"at least {MIN_ALIGNED} recordings"):
        predict_files(same[:2], [model], check_speech=False, align_level=True)
    # the command line's --align-level is the same path
    out = tmp_path / "p.csv"
    args = ["predict", str(tmp_path / "quiet"), "--checkpoint", str(model), "--out", str(out)]
    assert main([*args, "--no-speech-check", "--align-level"]) == 0
    table = pd.read_csv(out).sort_values("file")
    cli = torch.tensor(table.filter(like="p_").to_numpy(), dtype=torch.float32)
    assert torch.allclose(cli, aligned, atol=1e-4)


def test_store_level_restores_an_older_checkpoints_level(built, tmp_path):
    """A checkpoint without the level (written before it was stored) loads with it unknown,
    refuses to align naming the command, and store_level finds it again from the training
    data (fold all) and writes it; a fold whose training items differ writes nothing."""
    model = built["out"]
    want = load_checkpoint(model, "cpu").training_level
    old = tmp_path / "old.ckpt"
    content = torch.load(model, map_location="cpu", weights_only=False)
    del content["state_dict"]["logmel.level"]
    torch.save(content, old)
    assert math.isnan(load_checkpoint(old, "cpu").training_level)
    paths = list(read_manifest(Path(built["cfg"].data.manifest_dir) / "beta.csv")["path"])[:12]
    with pytest.raises(DataError, match=f"{old} was trained before .*store_level {old}"):
        predict_files(list(map(Path, paths)), [old], check_speech=False, align_level=True)
    with pytest.raises(DataError, match="not in a run folder"):
        store_level([old])
    # a LOSO fold of the last speaker trains on the first, which the fold `all` validates on
    last = max(read_manifest(Path(built["cfg"].data.manifest_dir) / "beta.csv")["speaker"])
    with pytest.raises(DataError, match="not those it was trained on"):
        store_level([old], fold=f"beta:{last}")
    assert math.isnan(load_checkpoint(old, "cpu").training_level)
    assert store_level([old], fold="all") == {old: pytest.approx(want, abs=1e-4)}
    assert load_checkpoint(old, "cpu").training_level == pytest.approx(want, abs=1e-4)


def test_a_resumed_run_keeps_the_level_its_data_gave(built):
    """Resuming from a checkpoint written before the level was stored keeps the level that
    `fit` found for the run; loading one for use leaves it unknown (the test above)."""
    lit = load_checkpoint(built["out"], "cpu")  # as a resumed run's module after `fit`
    content: dict = {"state_dict": {}}
    lit.on_load_checkpoint(content)
    assert float(content["state_dict"]["logmel.level"]) == lit.training_level


def test_the_svm_refuses_align_level_before_any_work(built):
    from dataclasses import replace

    from mtl_aug.errors import ConfigError
    from mtl_aug.protocols.cross import run_cross

    cfg = built["cfg"]
    svm = cfg.replace(baseline=replace(cfg.baseline, svm=True), corpus="alpha")
    with pytest.raises(ConfigError, match="--align-level moves the audio a network hears"):
        run_cross(svm, "beta", [0], align_level=True)


def test_loco_align_level_evaluates_each_held_out_corpus_moved(built):
    """eval-loco --align-level reuses the trained models and writes <variant>_level: each
    held-out corpus's UAR is that of its whole audio moved by one gain, the gain recorded."""
    from mtl_aug.protocols.cross import run_loco

    cfg = built["cfg"]
    out = run_loco(cfg, ["alpha", "beta"], [0], align_level=True)
    assert out.name == "multi_level"
    for row in pd.read_csv(out / "corpora.csv").to_dict("records"):
        res = json.loads((Path(row["results"]) / "seed0" / "results.json").read_text())
        lit = load_checkpoint(res["checkpoints"][0], "cpu")
        df = labelled_for(lit, res["manifest"])
        moved = evaluate_frame(lit, df, align_level=True)
        assert res["uar"] == pytest.approx(moved["uar"])
        assert res["level_gain_db"] == [round(moved["gain_db"], 2)]
        waves = [load_audio(p) for p in df["path"]]
        assert moved["gain_db"] == pytest.approx(lit.training_level - median_level(waves))
