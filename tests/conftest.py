"""The tests' fixtures: console logging, the real corpora (or a skip), a tiny synthetic corpus,
tiny trained models and real speech files. What they are built from is in builders.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from builders import REAL_DATA, tiny_cfg

from mtl_aug.data.corpora import prepare_generic, prepare_librispeech
from mtl_aug.data.corpora.synthetic import generate_synthetic


@pytest.fixture(scope="session", autouse=True)
def console_logging():
    """The package's messages on stdout / stderr, as the CLI shows them (tests read them there)."""
    from mtl_aug.console import to_console

    to_console()


@pytest.fixture
def real_data() -> Path:
    """../shared/data, or the test is skipped where it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real corpora not available: {REAL_DATA} does not exist")
    return REAL_DATA


@pytest.fixture
def no_speech(real_data, tmp_path) -> list[Path]:
    """Files without speech: digital silence, low white noise and 2 s of a real background
    recording (a running tap), in tmp_path / "no_speech"."""
    from mtl_aug.data.audio import load_audio

    folder = tmp_path / "no_speech"
    folder.mkdir()
    rng = np.random.default_rng(0)
    sf.write(folder / "silence.wav", np.zeros(16000, np.float32), 16000)
    sf.write(folder / "white.wav", (rng.standard_normal(32000) * 0.01).astype(np.float32), 16000)
    tap = load_audio(real_data / "background_noise" / "running_tap.wav")
    sf.write(folder / "tap.wav", tap[30 * 16000 : 32 * 16000].numpy(), 16000)
    return [folder / n for n in ("silence.wav", "white.wav", "tap.wav")]


# ---------------------------------------------------------------- training fixtures


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Manifests of a tiny synthetic corpus (4 speakers) and a tiny unlabelled 'LibriSpeech'."""
    root = tmp_path_factory.mktemp("corpus")
    manifests = root / "manifests"
    csv = generate_synthetic(root / "demo", speakers=4, per_emotion=3, seed=1)
    prepare_generic(csv, manifests / "synthetic_demo.csv", corpus="synthetic_demo")
    rng = np.random.default_rng(0)
    for i in range(6):
        flac = (
            root
            / "libri"
            / "LibriSpeech"
            / "train-clean-100"
            / "19"
            / "198"
            / f"19-198-{i:04d}.flac"
        )
        flac.parent.mkdir(parents=True, exist_ok=True)
        sf.write(flac, (rng.standard_normal(12000) * 0.05).astype(np.float32), 16000)
    prepare_librispeech(root / "libri", manifests / "librispeech.csv")
    return manifests


# ---------------------------------------------------------------- trained models, for export and
# serving


@pytest.fixture(scope="session")
def checkpoints(corpus, tmp_path_factory) -> dict[str, str]:
    """Tiny models of both normalisations: the defaults (corpus statistics over speech frames,
    silence trimmed) and per speaker (`speaker`; a lone file takes the training set's
    statistics)."""
    from mtl_aug.training.train import train_fold

    root = tmp_path_factory.mktemp("serve_models")
    return {
        name: train_fold(tiny_cfg(corpus, root / name, *overlays, **sets), "spk00", verbose=False)[
            "checkpoint"
        ]
        for name, overlays, sets in (
            ("defaults", (), {}),
            ("speaker", ("speaker",), {}),
        )
    }


@pytest.fixture(scope="session")
def speech(corpus, tmp_path_factory) -> list[Path]:
    import torch

    from mtl_aug.data.audio import load_audio
    from mtl_aug.data.manifest import read_manifest

    """Real EMODB files where the shared data is present (else the synthetic corpus's), a
    0.4 s cut and a 23 s concatenation of them (three windows)."""
    real = sorted((REAL_DATA / "emodb" / "wav").glob("08a0*.wav"))[:4]
    files = real or [Path(p) for p in read_manifest(corpus / "synthetic_demo.csv")["path"][:4]]
    out = tmp_path_factory.mktemp("speech")
    waves = [load_audio(f) for f in files]
    sf.write(out / "short.wav", waves[0][:6400].numpy(), 16000)
    sf.write(out / "long.wav", torch.cat(waves * 10)[: 23 * 16000].numpy(), 16000)
    return files + [out / "short.wav", out / "long.wav"]


@pytest.fixture(scope="session")
def built(corpus, tmp_path_factory):
    """build_model (make model) on two tiny generated corpora, alpha and beta: the model, its
    card, their meta; its leave-one-corpus-out results are in tmp / "results"."""
    from mtl_aug.protocols.ship import build_model

    tmp = tmp_path_factory.mktemp("ship")
    manifests = tmp / "m"
    manifests.mkdir()
    for suffix in (".csv", ".json"):
        (manifests / f"librispeech{suffix}").write_bytes(
            (corpus / f"librispeech{suffix}").read_bytes()
        )
    for name, seed in (("alpha", 2), ("beta", 3)):
        csv = generate_synthetic(tmp / name, speakers=4, per_emotion=2, seed=seed)
        prepare_generic(csv, manifests / f"{name}.csv", corpus=name)
    cfg = tiny_cfg(
        manifests,
        tmp / "runs",
        "multi",
        corpus="alpha",
        results_dir=tmp / "results",
        train__max_epochs=2,
    )
    out, card = tmp / "pkg" / "model.ckpt", tmp / "card.md"
    meta = build_model(cfg, "multi", ["alpha", "beta"], out, card)
    return {"cfg": cfg, "out": out, "card": card, "meta": meta, "tmp": tmp}
