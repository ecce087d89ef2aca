"""A trained model (one checkpoint, or several as an ensemble) for use without the training stack:
`Deployed` takes one 16 kHz mono waveform and returns the class probabilities, the emotion
embeddings and the attention weights, computing exactly what `predict` computes for a lone file;
`export` writes it as ONNX or TorchScript with its metadata beside it."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data import vad
from ..data.audio import speech_frames, speech_span, utterance_normalised
from ..errors import ConfigError
from ..training.lit import LitMTLAug
from .limits import WINDOW_SECONDS

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
OUTPUTS = ["probs", "embeddings", "attention", "offset"]


def _dft(window: torch.Tensor, n_fft: int) -> torch.Tensor:
    """(2K, 1, len(window)): the real and imaginary rows of the `n_fft`-point DFT of a frame
    windowed by `window` (zero-padding a frame does not change its power spectrum's values)."""
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    n = torch.arange(len(window), dtype=torch.float64)[None, :]
    angle = 2 * math.pi * k * n / n_fft
    w = window.to(torch.float64)
    return torch.cat([w * torch.cos(angle), -w * torch.sin(angle)]).float()[:, None, :]


def _power(wave: torch.Tensor, dft: torch.Tensor, hop: int) -> torch.Tensor:
    """(1, K, T) power spectra of `wave` (1, L) in frames centred on every `hop`-th sample, as
    torch.stft(center=True, pad_mode="constant") frames them."""
    pad = dft.shape[-1] // 2
    spec = F.conv1d(F.pad(wave[:, None, :], (pad, pad)), dft, stride=hop)  # (1, 2K, T)
    k = spec.shape[1] // 2
    return spec[:, :k] ** 2 + spec[:, k:] ** 2


class _Single(nn.Module):
    """One checkpoint's lone-file inference. The STFT is a convolution with the windowed DFT
    basis (real arithmetic, which every ONNX runtime has); the rest is the model's own modules."""

    def __init__(self, lit: LitMTLAug):
        super().__init__()
        mel = lit.logmel.mel
        spec = mel.spectrogram
        self.hop = spec.hop_length
        self.register_buffer("dft", _dft(spec.window, spec.n_fft))
        self.register_buffer("fb", mel.mel_scale.fb.T.contiguous())  # (F, K)
        self.silence, self.trim, self.normalise = (
            lit.logmel.silence,
            lit.logmel.trim,
            lit.logmel.normalise,
        )
        self.register_buffer("mean", lit.logmel.mean.clone())
        self.register_buffer("std", lit.logmel.std.clone())
        self.encoder, self.head = lit.model.encoder, lit.model.emotion

    def forward(
        self, wave: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """wave (1, L) -> probabilities (1, C), embedding (1, E), attention (1, T'), and the
        first frame the attention's time axis starts at (1,) (leading silence trimmed)."""
        feats = torch.log(
            torch.matmul(self.fb, _power(wave, self.dft, self.hop)) + 1e-6
        )  # (1, F, T)
        t = torch.arange(feats.shape[-1])
        speech = torch.ones_like(t, dtype=torch.bool)[None]
        offset = torch.zeros(1, dtype=torch.long)
        if self.silence is not None:  # as LogMel.raw
            speech = speech_frames(feats, speech, self.silence)
        if self.silence is not None and self.trim:
            offset, end = speech_span(speech)
            keep = (t >= offset) & (t < end)
            feats, speech = feats[:, :, keep], speech[:, keep]
        if self.normalise == "utterance":  # as LogMel.forward
            feats = utterance_normalised(feats, speech)
        else:  # corpus, or per speaker with the training set's statistics, as `predict` does a
            # lone file
            feats = (feats - self.mean[None, :, None]) / self.std[None, :, None].clamp(min=1e-3)
        n_frames = torch.full((1,), feats.shape[-1], dtype=torch.long)
        # stride - 1 zero frames instead of pad_time's "up to a multiple of the stride" (whose
        # modulo torch.export cannot bound): the floor pooling keeps the same ceil(T / stride)
        # windows, and the encoder zeroes every frame past the utterance either way
        stride = self.encoder.time_stride
        frames, lengths = self.encoder(F.pad(feats, (0, stride - 1)), n_frames)
        out = self.head.pool(self.head.lstm(frames)[0], lengths)
        return out["logits"].softmax(-1), out["embedding"], out["attention"], offset


# the features settings that change what a model computes from audio (training-only ones aside)
INFERENCE_FEATURES = (
    "n_mels",
    "n_fft",
    "hop_length",
    "f_min",
    "f_max",
    "normalise",
    "silence_db",
    "trim_silence",
)


def _inference_features(lit: LitMTLAug) -> tuple:
    return tuple(getattr(lit.cfg.features, k) for k in INFERENCE_FEATURES) + (
        lit.cfg.data.sample_rate,
    )


class Deployed(nn.Module):
    """An ensemble's lone-file inference: probabilities averaged over the models, each model's
    embedding (M, E), the attention weights averaged over the models (1, T') and the offset of
    their time axis in log-mel frames. The models must share their features and time pooling."""

    def __init__(self, models: list[LitMTLAug]):
        super().__init__()
        first = models[0]
        for lit in models:
            if lit.logmel.per_speaker and not lit.logmel.has_corpus_stats:
                raise ConfigError(
                    "a checkpoint trained before training statistics were stored cannot be "
                    "exported: a lone file has no statistics to be normalised with; retrain it"
                )
            if (
                _inference_features(lit) != _inference_features(first)
                or lit.class_names != first.class_names
                or lit.cfg.model.time_pool != first.cfg.model.time_pool
            ):
                raise ConfigError(
                    "an exported ensemble needs models with one class set, the same log-mel "
                    f"features ({', '.join(INFERENCE_FEATURES)}) and one model.time_pool"
                )
        self.models = nn.ModuleList(_Single(lit) for lit in models)

    def forward(
        self, wave: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        outs = [m(wave) for m in self.models]
        probs = torch.stack([o[0] for o in outs]).mean(0)
        attention = torch.stack([o[2] for o in outs]).mean(0)
        return probs, torch.cat([o[1] for o in outs]), attention, outs[0][3]


def metadata(models: list[LitMTLAug], checkpoints: list[str | Path]) -> dict:
    """What a user of the exported file needs: the classes, the input and the outputs, and where
    the model came from."""
    cfg = models[0].cfg
    return {
        "class_names": models[0].class_names,
        "sample_rate": cfg.data.sample_rate,
        "hop_length": cfg.features.hop_length,
        "input": "audio: float32 (1, samples), mono, at sample_rate, values in [-1, 1]; one "
        f"window of up to about {WINDOW_SECONDS:g} s (longer audio: cut into windows and "
        "average their probabilities, as predict does)",
        "outputs": {
            "probs": "(1, classes) class probabilities, the models' mean",
            "embeddings": "(models, embedding_dim) each model's emotion embedding",
            "attention": "(1, frames / time stride) attention weights over time, the models' mean",
            "offset": "(1,) log-mel frame (hop_length samples) at which the attention's time axis "
            "starts: leading silence trimmed",
        },
        # the graph judges any audio; `predict` and `serve` first ask whether it holds speech
        "speech_check": "not in this graph: give audio an emotion only if it holds speech. "
        "predict and serve answer 'no speech found' unless Silero VAD (silero_vad.jit or "
        "silero_vad.onnx, inside the silero-vad package) gives at least "
        f"{vad.MIN_SPEECH} s of 32 ms chunks ({vad.CHUNK} samples at {vad.SR} Hz, in order, "
        f"its state carried) a speech probability >= {vad.THRESHOLD}, or, where it does not, "
        f"the audio has {vad.VOICED_RUN} s of consecutive voiced frames (YIN pitch track at "
        f"{vad.VOICING_SR} Hz, F0 {vad.F0_RANGE[0]:g}-{vad.F0_RANGE[1]:g} Hz) whose pitch glides "
        "(mtl_aug/data/vad.py: voice_found)",
        "normalisation": cfg.features.normalise
        + (
            " (the training set's statistics for a lone file)"
            if cfg.features.normalise == "speaker"
            else ""
        ),
        "corpus": cfg.corpus,
        "variant": cfg.variant,
        "classes": cfg.data.classes,
        "seeds": [m.cfg.seed for m in models],
        "training": [_training(m) for m in models],
        "checkpoints": [str(c) for c in checkpoints],
    }


def _training(lit: LitMTLAug) -> dict:
    """What one model was trained on: its training speakers, utterances per class and median
    active level (data/level.py) (from its checkpoint; None where an older checkpoint lacks
    them)."""
    counts = lit.hparams.get("class_counts")
    level = lit.training_level
    return {
        "speakers": lit.hparams.get("num_speakers") or None,
        "utterances": sum(counts) if counts else None,
        "per_class": dict(zip(lit.class_names, counts, strict=True)) if counts else None,
        # predict --align-level: one gain moves a folder's median active level onto it
        "level_dbfs": None if math.isnan(level) else round(level, 2),
    }


def export(checkpoints: list[str | Path], fmt: str, out: Path) -> dict:
    """Write the (ensemble) model to `out` as ONNX or TorchScript, and its metadata to
    `out` with the suffix .json (also in the ONNX file's metadata). Returns the metadata."""
    from .evaluate import load_ensemble

    if fmt not in FORMATS:  # before the checkpoints are read
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    models = load_ensemble(checkpoints, device="cpu")
    meta = metadata(models, checkpoints)
    write(Deployed(models), meta, fmt, out)
    return meta


def write(deployed: Deployed, meta: dict, fmt: str, out: Path) -> None:
    """`deployed` as an ONNX or TorchScript file at `out`, `meta` beside it and inside."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    deployed = deployed.eval().requires_grad_(False)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(1, 3 * meta["sample_rate"]) * 0.1
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns of every Python int it sees; the tests check the graph on other lengths
        warnings.simplefilter("ignore")
        if fmt == "onnx":
            import onnx

            # the TorchScript-based exporter: torch.export (dynamo=True) unrolls the BLSTM over the
            # example's frame count, so the graph would take one input length only
            torch.onnx.export(
                deployed,
                (example,),
                str(out),
                dynamo=False,
                input_names=["audio"],
                output_names=OUTPUTS,
                opset_version=17,
                dynamic_axes={"audio": {1: "samples"}, "attention": {1: "frames"}},
            )
            model = onnx.load(str(out))
            onnx.helper.set_model_props(model, {"mtl_aug": json.dumps(meta)})
            onnx.save(model, str(out))
        else:
            torch.jit.save(torch.jit.trace(deployed, (example,), check_trace=False), str(out))
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
