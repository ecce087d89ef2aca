"""A plain (not editable) install runs from any folder: the wheel holds the configs, the page
and the shipped model, and `predict` answers from a folder outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def test_a_wheel_install_predicts_from_another_folder(tmp_path):
    src = tmp_path / "src"  # a copy: the build leaves build/ and egg-info beside its sources
    shutil.copytree(ROOT / "mtl_aug", src / "mtl_aug", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(wheels), str(src)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("mtl_aug-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for need in ("configs/default.yaml", "configs/classes.yaml", "configs/variant/multi.yaml"):
        assert f"mtl_aug/{need}" in names, need
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), wheel],
        check=True,
    )
    away = tmp_path / "elsewhere"
    away.mkdir()
    t = np.arange(16000 * 2) / 16000
    sf.write(away / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import mtl_aug; print(mtl_aug.__file__)"],
        cwd=away, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(site))  # the installed copy, not this checkout
    got = subprocess.run(
        [sys.executable, "-m", "mtl_aug", "predict", "tone.wav", "--no-speech-check"],
        cwd=away, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    rows = [line for line in got.stdout.splitlines() if line.startswith("tone.wav,")]
    assert len(rows) == 1 and rows[0].split(",")[1] in {"angry", "happy", "neutral", "sad"}
    assert "1 files predicted" in got.stdout + got.stderr
