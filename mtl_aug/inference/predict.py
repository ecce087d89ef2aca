"""The deployed path: emotions for audio files, one at a time or grouped by speaker, from one
checkpoint or an ensemble; the same inference as the evaluation (evaluate.predict_waves)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch

from ..data import band, vad
from ..data.level import active_level, align_gain, require_level, scaled
from ..errors import ConfigError, DataError
from ..training.lit import LitMTLAug
from .accept import read_accepted
from .evaluate import load_ensemble, predict_waves
from .limits import WINDOW_SECONDS

log = logging.getLogger(__name__)


SHORT_SECONDS = 0.25  # a shorter file is flagged: too little speech to judge an emotion
# (under accept.MIN_SECONDS it is refused)
SILENT_DBFS = vad.SILENT_DBFS  # a file whose loudest 25 ms frame is quieter is flagged as silent
NO_SPEECH = vad.NO_SPEECH


def speech_check(wave: torch.Tensor, sr: int) -> str:
    """NO_SPEECH where `wave` holds no speech (Silero VAD, data/vad.py), else '': the one rule
    by which `predict`, `eval-predict` and the HTTP API withhold an emotion."""
    return "" if vad.speech_found(wave, sr) else NO_SPEECH


# measured on nEMO, which no shipped model trained on: python -m mtl_aug.reporting.telephone nemo
BAND_LIMITED = (
    "band-limited: nothing above 4.3 kHz (8 kHz or telephone audio), where the models were "
    "trained on wideband speech; the shipped model's UAR falls from 46.5 to 30.8 % on "
    "telephone copies of a corpus it never heard (docs/inputs.md)"
)


def file_warning(wave: torch.Tensor, sr: int, truncated: str = "") -> str:
    """Why a prediction for this audio should not be trusted, or '': a file whose header
    promises more than it holds (`truncated`, read_accepted's warning), audio too short,
    silent (flagged where speech is not checked; where it is, such audio gets no emotion) or
    band-limited (data/band.py); several joined by '; '."""
    found = [truncated]
    if len(wave) < SHORT_SECONDS * sr:
        found.append(f"shorter than {SHORT_SECONDS} s: too short to judge")
    elif not vad.energy_found(wave, sr):
        found.append(f"silent: no 25 ms frame above {SILENT_DBFS:.0f} dBFS")
    elif band.band_limited(wave, sr):
        found.append(BAND_LIMITED)
    return "; ".join(w for w in found if w)


def windows(wave: torch.Tensor, sr: int, window: float) -> list[torch.Tensor]:
    """`wave` cut into `window`-second pieces; a tail under 1 s joins the previous piece."""
    step = int(window * sr)
    chunks = [wave[i : i + step] for i in range(0, len(wave), step)]
    if len(chunks) > 1 and len(chunks[-1]) < sr:
        tail = chunks.pop()
        chunks[-1] = torch.cat([chunks[-1], tail])
    return chunks


def lone_stats(lit: LitMTLAug, n: int) -> torch.Tensor | None:
    """(n, 2, F) statistics for audio of an unknown speaker, for a model that normalises per
    speaker: the training set's statistics, which training stores in the checkpoint. (Older
    checkpoints lack them: their files are normalised on themselves, with a warning.)"""
    if not lit.logmel.per_speaker or not lit.logmel.has_corpus_stats:
        return None
    return lit.logmel.training_stats(n).cpu()


def speakers_from(paths: list[Path], spec: str) -> list[str]:
    """Each path's speaker, by `spec`: `folder` (the file's folder name), a CSV file with
    columns path and speaker (paths as given, or file names), or a regular expression with a
    named group (?P<speaker>...) searched in the path. Files left without one are an error."""
    if spec == "folder":
        found = {p: p.parent.name for p in paths}
    elif spec.endswith(".csv"):
        table = (
            pd.read_csv(spec, dtype=str, keep_default_na=False) if Path(spec).is_file() else None
        )
        if table is None or not {"path", "speaker"} <= set(table.columns):
            raise DataError(
                f"--speaker-from {spec}: expected a CSV file with columns path, speaker"
            )
        by = dict(zip(table["path"], table["speaker"], strict=True))
        found = {p: by.get(str(p), by.get(p.name, "")) for p in paths}
    else:
        from ..data.corpora.folders import speaker_pattern

        pattern = speaker_pattern(spec)
        found = {
            p: (m.group("speaker") if (m := pattern.search(p.as_posix())) else "") for p in paths
        }
    missing = [str(p) for p, s in found.items() if not s]
    if missing:
        raise DataError(
            f"--speaker-from {spec}: no speaker for {len(missing)} file(s): "
            f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
        )
    return [found[p] for p in paths]


def _stats(
    lit: LitMTLAug, waves: list[torch.Tensor], group: list[str] | None
) -> torch.Tensor | None:
    """The statistics `predict` normalises with: the group's (one speaker's files) when given,
    else the training set's (lone_stats), else, for an older checkpoint, the file's own."""
    if group is not None:
        return lit.logmel.item_stats(group, waves.__getitem__)
    stats = lone_stats(lit, len(waves))
    return (
        stats
        if stats is not None
        else lit.logmel.item_stats(["file"] * len(waves), waves.__getitem__)
    )


def predict_files(
    paths: list[Path],
    checkpoints: list[str | Path],
    window: float = WINDOW_SECONDS,
    speakers: list[str] | None = None,
    check_speech: bool = True,
    align_level: bool = False,
) -> tuple[list[dict], list[str]]:
    """Per file: predicted emotion, class probabilities and a warning for audio too short to
    judge; a file without speech (speech_check) gets no emotion, no probabilities (None) and
    the warning NO_SPEECH, and takes no part in its speaker's statistics (unless
    `check_speech` is False: every file is judged, as before speech was checked). Files longer
    than `window` seconds are cut into windows whose probabilities are averaged, as are those
    of several checkpoints (an ensemble). Unreadable files and those the API refuses too
    (accept.read_accepted: sample rate, channels, under 0.1 s, ...) are skipped and returned as
    errors, one sentence each naming the file.

    With `speakers` (one per path), each speaker's files are predicted together, as the
    evaluation does: per-speaker normalisation statistics from all of that speaker's audio,
    and the embedding centred per speaker (model.centre_embedding, from MIN_CENTRED windows
    on). Without, each file is on its own: a per-speaker model normalises it with the training
    set's statistics, and it is not centred.

    `align_level`: one gain moves all the files with speech onto each model's training level
    (data/level.py), as `evaluate --align-level` moves a corpus; a first pass reads every file
    for its level (and its speech check), the second reads them again to predict."""
    if window < 1:
        raise ConfigError(f"--window must be at least 1 second, got {window}")
    if speakers is not None and len(speakers) != len(paths):
        raise ValueError("one speaker per path")
    models = load_ensemble(checkpoints)
    lit = models[0]
    sr = lit.cfg.data.sample_rate
    for c, m in zip(checkpoints, models, strict=True):
        if align_level:
            require_level(c, m.training_level)
        if m.logmel.per_speaker and not m.logmel.has_corpus_stats and speakers is None:
            log.warning(
                f"{c}: trained before training statistics were stored; each file is normalised on "
                f"itself, "
                "which loses much of the accuracy (group files with --speaker-from)"
            )
    rows: dict[int, dict] = {}
    errors: list[str] = []
    speech: set[int] = set()  # files read and found to hold speech by the level pass
    truncated: dict[int, str] = {}  # file i's warning if it is cut short (read_accepted)

    def read(i: int) -> torch.Tensor | None:
        """File i's audio, or None where it is skipped (an error) or has no speech (its row)."""
        try:
            wave, truncated[i] = read_accepted(paths[i], str(paths[i]), sr)
        except DataError as exc:  # unreadable, or refused as the API refuses it (accept.py)
            errors.append(str(exc))
            return None
        if check_speech and i not in speech and (reason := speech_check(wave, sr)):
            speaker = None if speakers is None else speakers[i]
            rows[i] = _no_speech_row(paths[i], wave, sr, lit.class_names, reason, speaker)
            return None
        return wave

    gains = [0.0] * len(models)
    if align_level:  # a first pass for the files' levels; the second reads them again
        levels = {i: active_level(w) for i in range(len(paths)) if (w := read(i)) is not None}
        speech.update(levels)
        if levels:
            what = f"--align-level over {len(levels)} file(s) with speech"
            gains = [align_gain(list(levels.values()), m.training_level, what) for m in models]
            log.info(
                f"level: {len(levels)} files moved "
                + ", ".join(
                    f"{g:+.1f} dB onto {m.training_level:.1f} dBFS"
                    for g, m in zip(gains, models, strict=True)
                )
            )
    if speakers is not None:
        groups = (
            pd.Series(range(len(paths))).groupby(list(speakers), sort=False).indices
        )  # speaker -> positions
    else:
        groups = {i: [i] for i in range(len(paths))}
    for key, members in groups.items():
        waves, owner, warn = [], [], {}
        for i in members:
            if align_level and i not in speech:
                continue  # skipped or given its row by the level pass
            wave = read(i)
            if wave is None:
                continue
            chunks = windows(wave, sr, window)
            waves += chunks
            owner += [i] * len(chunks)
            warning = file_warning(wave, sr, truncated[i])
            warn[i] = (warning, round(len(wave) / sr, 3), len(chunks))
        if not waves:
            continue
        group = [str(key)] * len(waves) if speakers is not None else None
        per_model = []
        for m, gain in zip(models, gains, strict=True):
            heard = scaled(waves, gain) if align_level else waves
            per_model.append(predict_waves(m, heard, stats=_stats(m, heard, group), speakers=group))
        probs = torch.stack(per_model).mean(0)
        owner_t = torch.tensor(owner)
        for i, (warning, duration, n_windows) in warn.items():
            p = probs[owner_t == i].mean(0)
            row = {
                "file": str(paths[i]),
                "pred": lit.class_names[int(p.argmax())],
                "speech": True,
                "duration": duration,
                "windows": n_windows,
            }
            if speakers is not None:
                row["speaker"] = speakers[i]
            row.update(
                {f"p_{n}": round(float(v), 5) for n, v in zip(lit.class_names, p, strict=True)}
            )
            row["warning"] = warning
            rows[i] = row
    return [rows[i] for i in sorted(rows)], errors


def _no_speech_row(
    path: Path, wave: torch.Tensor, sr: int, names: list[str], reason: str, speaker: str | None
) -> dict:
    """A file's row without an emotion: no prediction, no probabilities, the reason why; the
    columns of the other rows, in their order (a CSV holds both kinds)."""
    row = {
        "file": str(path),
        "pred": None,
        "speech": False,
        "duration": round(len(wave) / sr, 3),
        "windows": 0,
    }
    if speaker is not None:
        row["speaker"] = speaker
    return {**row, **{f"p_{n}": None for n in names}, "warning": reason}
