"""The model outside the training code: the exported graph (ONNX through onnxruntime, TorchScript)
against the PyTorch model and `predict`, on real speech where it is present."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mtl_aug.data.audio import load_audio
from mtl_aug.inference.evaluate import load_ensemble
from mtl_aug.inference.export import Deployed, export
from mtl_aug.inference.predict import predict_files


@pytest.mark.parametrize("model", ["defaults", "speaker"])
def test_exported_model_gives_predicts_probabilities(checkpoints, speech, tmp_path, model):
    """ONNX (onnxruntime) and TorchScript give the PyTorch model's probabilities on real speech,
    short and long, and both equal what `predict` gives a lone file; metadata travels with them."""
    import onnxruntime

    ckpt = checkpoints[model]
    onnx_meta = export([ckpt], "onnx", tmp_path / "model.onnx")
    export([ckpt], "torchscript", tmp_path / "model.pt")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    stored = json.loads(session.get_modelmeta().custom_metadata_map["mtl_aug"])
    assert stored == onnx_meta == json.loads((tmp_path / "model.json").read_text())
    assert stored["class_names"] == ["angry", "happy", "neutral", "sad"]
    assert "Silero VAD" in stored["speech_check"] and "0.16 s" in stored["speech_check"]
    level = load_ensemble([ckpt], "cpu")[0].training_level
    assert stored["training"][0]["level_dbfs"] == pytest.approx(level, abs=0.005)
    scripted = torch.jit.load(str(tmp_path / "model.pt"))
    deployed = Deployed(load_ensemble([ckpt], "cpu")).eval()
    # predict cuts files over 10 s into windows; one graph call takes the whole file here. The
    # graph holds no speech check (its metadata says so): compared with predict without it
    rows, errors = predict_files(speech[:-1], [ckpt], check_speech=False)
    assert not errors
    for path in speech:
        wave = load_audio(path)[None]
        with torch.no_grad():
            ref = [t.numpy() for t in deployed(wave)]
        ort = session.run(None, {"audio": wave.numpy()})
        ts = [t.numpy() for t in scripted(wave)]
        for got in (ort, ts):
            assert [g.shape for g in got] == [r.shape for r in ref]
            np.testing.assert_allclose(got[0], ref[0], atol=1e-5)  # probabilities
            np.testing.assert_allclose(got[1], ref[1], atol=1e-4)  # embedding
            np.testing.assert_allclose(got[2], ref[2], atol=1e-5)  # attention
            assert got[3] == ref[3]
        assert ref[2].shape[1] > 1 and abs(ref[2].sum() - 1) < 1e-5
    for row, path in zip(rows, speech[:-1], strict=True):
        with torch.no_grad():
            probs = deployed(load_audio(path)[None])[0][0]
        np.testing.assert_allclose(
            [row[f"p_{c}"] for c in stored["class_names"]], probs.numpy(), atol=1e-5
        )


def test_export_of_an_ensemble_and_what_it_refuses(checkpoints, speech, tmp_path):
    """An ensemble exports each model's embedding and the mean of their probabilities; a bad
    format, and models with different features, are refused before anything is written."""
    import onnxruntime

    from mtl_aug.errors import ConfigError

    ckpt = checkpoints["defaults"]
    meta = export([ckpt, ckpt], "onnx", tmp_path / "two.onnx")
    assert meta["checkpoints"] == [ckpt, ckpt] and meta["seeds"] == [0, 0]
    wave = load_audio(speech[0])[None].numpy()
    two = onnxruntime.InferenceSession(str(tmp_path / "two.onnx")).run(None, {"audio": wave})
    with torch.no_grad():
        one = Deployed(load_ensemble([ckpt], "cpu")).eval()(torch.from_numpy(wave))
    assert two[1].shape == (2, one[1].shape[1])
    np.testing.assert_allclose(two[0], one[0].numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="--format"):
        export([ckpt], "tflite", tmp_path / "m.tflite")
    with pytest.raises(ConfigError, match="the same log-mel features"):
        export([ckpt, checkpoints["speaker"]], "onnx", tmp_path / "mixed.onnx")
    assert not (tmp_path / "m.tflite").exists() and not (tmp_path / "mixed.onnx").exists()
    # a checkpoint from before an option (its saved config lacks the key), or from before one
    # was removed (its saved config holds it, off), loads with the behaviour it was trained
    # with and joins an ensemble of newer ones; one trained with a removed option is refused
    content = torch.load(ckpt, map_location="cpu", weights_only=False)
    saved = content["hyper_parameters"]["cfg"]
    del saved["data"]["balance_corpora"]
    saved["features"].update(prosody=False, lone_prob=0.0, corpus_stats="pooled")
    saved["model"]["functionals"] = False
    saved["train"].update(plateau_factor=0.5, plateau_patience=4)
    torch.save(content, tmp_path / "older.ckpt")
    older, newer = load_ensemble([tmp_path / "older.ckpt", ckpt], "cpu")
    assert older.cfg == newer.cfg
    Deployed([older, newer])
    saved["model"]["functionals"] = True
    torch.save(content, tmp_path / "functionals.ckpt")
    with pytest.raises(
        ConfigError, match=r"functionals\.ckpt: .*model\.functionals=true was removed"
    ):
        load_ensemble([tmp_path / "functionals.ckpt"], "cpu")
    saved["model"]["functionals"] = False
    content["hyper_parameters"]["cfg"]["model"]["kernel"] = 3  # a newer version's option
    torch.save(content, tmp_path / "newer.ckpt")
    with pytest.raises(ConfigError, match=r"newer\.ckpt: .*unknown config key 'model\.kernel'"):
        load_ensemble([ckpt, tmp_path / "newer.ckpt"], "cpu")


def test_export_without_a_checkpoint_writes_the_shipped_model_here(tmp_path, monkeypatch, capsys):
    """`mtl-aug export` alone: the shipped model (as predict and serve), written into the current
    folder as model.onnx + model.json, nothing beside the checkpoint inside the package."""
    from mtl_aug.cli import main
    from mtl_aug.inference.shipped import SHIPPED

    if not SHIPPED.is_file():
        pytest.skip(f"no shipped model at {SHIPPED}")
    package = sorted(SHIPPED.parent.iterdir())
    monkeypatch.chdir(tmp_path)
    assert main(["export"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.onnx"]
    assert sorted(SHIPPED.parent.iterdir()) == package
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["checkpoints"] == [str(SHIPPED)]
    assert "wrote model.onnx" in capsys.readouterr().out
