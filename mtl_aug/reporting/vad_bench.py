"""Speech detectors on real files: how many speech files each keeps, per corpus and emotion
(every prepared manifest of --manifests), how many non-speech files it rejects, and its CPU
time per second of audio; then the silence trimmers on speech padded with noise. Noise and the
speech mixed with it from --data (the shared folder: background_noise, city_noise, emodb);
prints tables; asserts nothing.

    python -m mtl_aug.reporting.vad_bench [--data DIR] [--manifests DIR] [--mixed 300]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ..data import vad
from ..data.audio import LogMel, load_audio, speech_frames, speech_span
from ..data.manifest import read_manifest
from ..data.mixing import NoiseBank, mix_at_snr
from .report import markdown_table

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SR = 16000
DETECTORS = {
    "energy (peak > -60 dBFS; the default's trimming)": vad.energy_found,
    f"energy + modulation (spread >= {vad.SPREAD_DB:g} dB)": vad.modulation_found,
    f"silero-vad (>= {vad.MIN_SPEECH} s at p >= {vad.THRESHOLD})": vad.silero_found,
    f"voicing (>= {vad.VOICED_RUN} s voiced)": vad.voice_found,
    "silero-vad or voicing (the rule)": vad.speech_found,
}


def _pick(files: list[Path], n: int, rng: np.random.Generator) -> list[Path]:
    files = sorted(files)
    return [files[i] for i in sorted(rng.choice(len(files), min(n, len(files)), replace=False))]


def _pieces(files: list[Path], rng: np.random.Generator) -> list[torch.Tensor]:
    """Each recording cut into consecutive pieces of 1-3 s (drawn lengths)."""
    out = []
    for f in files:
        wave, start = load_audio(f, SR), 0
        while start + SR <= len(wave):
            n = int(rng.uniform(1, 3) * SR)
            out.append(wave[start : start + n])
            start += n
    return out


def corpora(manifests: Path) -> dict[str, tuple[bool, list]]:
    """Every file of every prepared manifest (`<corpus>.csv`), one source per corpus and
    emotion (the manifest's own labels)."""
    out = {}
    for csv in sorted(manifests.glob("*.csv")):
        df = read_manifest(csv)
        if df.empty or df["style"].eq("noise").all():
            continue  # a noise manifest (prepare noise / demand): no speech to keep
        for emotion, part in df.groupby(df["emotion"].fillna("")):
            out[f"{csv.stem}: {emotion or 'all'}"] = (True, [Path(p) for p in part["path"]])
    return out


def sources(data: Path, manifests: Path, n: int, seed: int) -> dict[str, tuple[bool, list]]:
    """name -> (is speech, waves or paths)."""
    rng = np.random.default_rng(seed)
    emodb = sorted((data / "emodb" / "wav").glob("*.wav"))
    out = corpora(manifests)
    bank = NoiseBank(data / "background_noise", seed)
    mixed = _pick(emodb, n, rng)
    for snr in (10, 0):
        out[f"emodb + background noise {snr} dB ({len(mixed)})"] = (
            True,
            [
                (lambda p=p, i=i, s=snr: mix_at_snr(w := load_audio(p), bank.segment(i, len(w)), s))
                for i, p in enumerate(mixed)
            ],
        )
    out["background_noise, 1-3 s pieces"] = (
        False,
        _pieces(sorted((data / "background_noise").glob("*.wav")), rng),
    )
    out["city_noise"] = (False, sorted((data / "city_noise").rglob("*.wav")))
    lengths = rng.uniform(0.5, 3, 30)
    out["digital silence (30)"] = (False, [torch.zeros(int(s * SR)) for s in lengths])
    out["white noise -60..-30 dBFS (30)"] = (
        False,
        [
            torch.randn(int(s * SR), generator=torch.Generator().manual_seed(i))
            * 10 ** (rng.uniform(-60, -30) / 20)
            for i, s in enumerate(lengths)
        ],
    )
    return out


def _wave(item) -> torch.Tensor:
    if isinstance(item, Path):
        return load_audio(item, SR)
    return item() if callable(item) else item


def detection(data: Path, manifests: Path, n: int, seed: int) -> None:
    vad.speech_found(torch.zeros(SR), SR)  # the model is loaded outside the timing
    cpu = dict.fromkeys(DETECTORS, 0.0)
    audio = 0.0
    rows = []
    for name, (is_speech, items) in sources(data, manifests, n, seed).items():
        right = dict.fromkeys(DETECTORS, 0)
        for item in items:
            wave = _wave(item)
            audio += len(wave) / SR
            for d, found in DETECTORS.items():
                t = time.process_time()
                right[d] += found(wave, SR) == is_speech
                cpu[d] += time.process_time() - t
        rows.append(
            [name, "speech kept" if is_speech else "non-speech rejected", str(len(items))]
            + [f"{100 * right[d] / len(items):.1f}" for d in DETECTORS]
        )
    print(
        "\n".join(
            markdown_table(["source", "figure", "files"] + [f"{d} %" for d in DETECTORS], rows)
        )
    )
    print(f"\nCPU seconds per second of audio ({audio / 60:.1f} min of audio, this machine):")
    for d in DETECTORS:
        print(f"  {d}: {cpu[d] / audio:.4f}")


def trimming(data: Path, n: int, seed: int) -> None:
    """EMODB utterances (already cut close to the speech) with 1 s of background noise before
    and after, mixed at 10 and 20 dB: how much of the padding each trimmer keeps, and how much
    of the utterance it cuts. The energy trimmer is the default config's (silence_db 40)."""
    rng = np.random.default_rng(seed)
    bank = NoiseBank(data / "background_noise", seed)
    files = _pick(sorted((data / "emodb" / "wav").glob("*.wav")), n, rng)
    logmel = LogMel(SR, 80, 400, 160, 0.0, 8000.0)
    silence = 40 * np.log(10) / 10
    rows = []
    for snr in (20, 10):
        kept = {"energy (default, 40 dB)": [0.0, 0.0], "silero-vad": [0.0, 0.0]}
        for i, p in enumerate(files):
            speech = load_audio(p, SR)
            padded = torch.cat([torch.zeros(SR), speech, torch.zeros(SR)])
            wave = mix_at_snr(padded, bank.segment(i, len(padded)), snr)
            feats = torch.log(logmel.mel(wave[None]) + 1e-6)
            mask = speech_frames(feats, torch.ones_like(feats[:, 0], dtype=torch.bool), silence)
            start, end = (int(v) * 160 for v in speech_span(mask))
            on = (vad.speech_probs(wave, SR) >= vad.THRESHOLD).nonzero()
            first, last = (int(on.min()), int(on.max()) + 1) if len(on) else (0, 0)
            spans = {
                "energy (default, 40 dB)": (start, end),
                "silero-vad": (first * vad.CHUNK, last * vad.CHUNK),
            }
            for k, (a, b) in spans.items():
                inside = max(0, min(b, SR + len(speech)) - max(a, SR))
                kept[k][0] += (b - a - inside) / (2 * SR)  # of the 2 s of padding
                kept[k][1] += 1 - inside / len(speech)  # of the utterance
        for k, (pad, cut) in kept.items():
            rows.append(
                [f"{snr} dB", k, f"{100 * pad / len(files):.1f}", f"{100 * cut / len(files):.1f}"]
            )
    print(f"\nTrimming {len(files)} EMODB files padded with 1 s of background noise each side:")
    print("\n".join(markdown_table(["SNR", "trimmer", "padding kept %", "utterance cut %"], rows)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--manifests", type=Path, default=Path("data_manifests"))
    ap.add_argument("--mixed", type=int, default=300, help="EMODB files mixed with noise")
    ap.add_argument("--trim-files", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    detection(args.data, args.manifests, args.mixed, args.seed)
    if args.trim_files:
        trimming(args.data, args.trim_files, args.seed)


if __name__ == "__main__":
    main()
