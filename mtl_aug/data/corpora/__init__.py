"""One module per corpus; each `prepare_<corpus>(root, out, strict=False, ...)` writes a manifest.

The registry of what `mtl-aug prepare` (and `make manifests CORPUS=...`) knows: PREPARERS, the
named corpora, each in its own documented layout; LAYOUTS, layouts that any corpus may come in
(its manifest is named by --name). `read_corpus`: a prepared corpus's manifest by name."""

from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import manifest_path, read_manifest
from .emodb import prepare_emodb
from .emovo import prepare_emovo
from .folders import prepare_folders
from .generic import prepare_generic
from .iemocap import prepare_iemocap
from .librispeech import prepare_librispeech
from .msp_improv import prepare_msp_improv
from .nemo import prepare_nemo
from .noise import prepare_noise
from .synthetic import prepare_synthetic
from .tess import prepare_tess
from .turev import prepare_turev
from .urdu import prepare_urdu

PREPARERS = {
    "iemocap": prepare_iemocap,
    "msp_improv": prepare_msp_improv,
    "emodb": prepare_emodb,
    "urdu": prepare_urdu,
    "turev": prepare_turev,
    "tess": prepare_tess,
    "emovo": prepare_emovo,
    "nemo": prepare_nemo,
    "librispeech": prepare_librispeech,
    "demand": prepare_noise,
    "synthetic_demo": prepare_synthetic,
}
LAYOUTS = {"generic": prepare_generic, "folders": prepare_folders, "noise": prepare_noise}
CORPUS_CHOICES = (*PREPARERS, *LAYOUTS)


def read_corpus(manifest_dir: str | Path, corpus: str) -> pd.DataFrame:
    """The manifest of a prepared corpus, or a DataError saying how to prepare it (a named
    corpus) or describe it (any other)."""
    path = manifest_path(manifest_dir, corpus)
    if path.is_file():
        return read_manifest(path)
    if corpus not in PREPARERS:
        raise DataError(
            f"unknown corpus '{corpus}': no manifest {path}. Known corpora: "
            f"{', '.join(PREPARERS)}; any other corpus is described by a CSV and "
            f"prepared with `make manifests CORPUS=generic DATA_DIR=<csv> NAME={corpus}`"
        )
    raise DataError(
        f"manifest {path} not found: make it with "
        f"`make manifests CORPUS={corpus} DATA_DIR=<path to the corpus>`"
    )


__all__ = [
    "CORPUS_CHOICES",
    "read_corpus",
    "LAYOUTS",
    "PREPARERS",
    "prepare_emodb",
    "prepare_emovo",
    "prepare_folders",
    "prepare_generic",
    "prepare_iemocap",
    "prepare_librispeech",
    "prepare_msp_improv",
    "prepare_nemo",
    "prepare_noise",
    "prepare_synthetic",
    "prepare_tess",
    "prepare_turev",
    "prepare_urdu",
]
