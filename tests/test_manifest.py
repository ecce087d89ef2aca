"""Manifest checks: bad audio skipped and counted with the file named (or raised in strict
mode) by every preparer, byte-identical re-preparation, and reading a manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import (
    BAD_KINDS,
    EMODB_FILES,
    IEMOCAP_UTTS,
    iemocap_label_file,
    iemocap_label_line,
    iemocap_wav,
    make_demand,
    make_emodb,
    make_generic,
    make_iemocap,
    make_librispeech,
    make_msp_improv,
    msp_wav,
    sidecar,
    skip_reason_of,
    skipped_items,
    write_audio,
    write_bad,
)

from mtl_aug.data.corpora import (
    prepare_emodb,
    prepare_generic,
    prepare_iemocap,
    prepare_librispeech,
    prepare_msp_improv,
    prepare_noise,
    read_corpus,
)
from mtl_aug.data.manifest import read_manifest
from mtl_aug.errors import DataError


def _emodb_with(tmp_path, kind):
    root = make_emodb(tmp_path)
    bad = write_bad(root / "wav" / "16a05Wa.wav", kind)
    return (
        (lambda out, strict=False: prepare_emodb(root, out, strict=strict)),
        bad,
        len(EMODB_FILES),
    )


def _iemocap_with(tmp_path, kind):
    root = make_iemocap(tmp_path)
    bad = write_bad(iemocap_wav(root, "Ses04F_impro01_M001"), kind)
    label_file = iemocap_label_file(root, "Ses04F_impro01")
    label_file.write_text(
        label_file.read_text() + iemocap_label_line("Ses04F_impro01_M001", "ang", 9.0) + "\n"
    )
    return (
        (lambda out, strict=False: prepare_iemocap(root, out, strict=strict)),
        bad,
        len(IEMOCAP_UTTS),
    )


def _msp_with(tmp_path, kind):
    root = make_msp_improv(tmp_path)
    write_bad(msp_wav(root, "S01A-F01-P-FM01"), kind)
    bad = msp_wav(root, "S01A-F01-P-FM01")
    return (lambda out, strict=False: prepare_msp_improv(root, out, strict=strict)), bad, 7


def _generic_with(tmp_path, kind):
    csv = make_generic(tmp_path)
    bad = write_bad(csv.parent / "audio" / "broken.wav", kind)
    csv.write_text(csv.read_text() + "audio/broken.wav,spkE,sad,F,3\n")
    return (lambda out, strict=False: prepare_generic(csv, out, strict=strict)), bad, 4


def _noise_with(tmp_path, kind):
    root = make_demand(tmp_path)
    bad = write_bad(root / "DKITCHEN" / "ch04.wav", kind)
    return (lambda out, strict=False: prepare_noise(root, out, strict=strict)), bad, 5


BUILDERS = {
    "emodb": _emodb_with,
    "iemocap": _iemocap_with,
    "msp_improv": _msp_with,
    "generic": _generic_with,
    "demand": _noise_with,
}


@pytest.mark.parametrize("kind", list(BAD_KINDS))
@pytest.mark.parametrize("corpus", list(BUILDERS))
def test_bad_audio_is_skipped_with_the_file_named(tmp_path, corpus, kind):
    prepare, bad, n_good = BUILDERS[corpus](tmp_path, kind)
    out = tmp_path / "out.csv"
    df = prepare(out)
    assert len(df) == n_good and bad.stem not in set(df["utt_id"])
    assert BAD_KINDS[kind] in skip_reason_of(out, bad.name)
    assert [i for i in skipped_items(out) if bad.name in i] == [str(bad)]


def test_skip_reasons_group_files_not_one_group_per_file(tmp_path):
    prepare, bad, n_good = BUILDERS["emodb"](tmp_path, "truncated")
    other = write_audio(bad.with_name("03a01Wa.wav"), seconds=0.9)  # truncated by another length
    other.write_bytes(other.read_bytes()[:5000])
    prepare(tmp_path / "out.csv")
    groups = {
        r: items
        for r, items in sidecar(tmp_path / "out.csv")["skipped"].items()
        if "truncated" in r
    }
    assert len(groups) == 1 and len(next(iter(groups.values()))) == 2


@pytest.mark.parametrize("kind", list(BAD_KINDS))
@pytest.mark.parametrize("corpus", list(BUILDERS))
def test_bad_audio_raises_in_strict_mode(tmp_path, corpus, kind):
    prepare, bad, _ = BUILDERS[corpus](tmp_path, kind)
    with pytest.raises(DataError) as err:
        prepare(tmp_path / "out.csv", strict=True)
    assert bad.name in str(err.value)
    assert BAD_KINDS[kind] in str(err.value)
    assert not (tmp_path / "out.csv").exists()


IDEMPOTENT = {
    "iemocap": lambda p: (prepare_iemocap, make_iemocap(p), {}),
    "msp_improv": lambda p: (prepare_msp_improv, make_msp_improv(p), {}),
    "emodb": lambda p: (prepare_emodb, make_emodb(p), {}),
    "librispeech": lambda p: (
        prepare_librispeech,
        make_librispeech(p),
        {"hours": 2 / 3600, "seed": 3},
    ),
    "demand": lambda p: (prepare_noise, make_demand(p), {}),
    "generic": lambda p: (prepare_generic, make_generic(p), {}),
}


@pytest.mark.parametrize("corpus", list(IDEMPOTENT))
def test_preparing_twice_gives_identical_csv_bytes(tmp_path, corpus):
    prepare, root, kwargs = IDEMPOTENT[corpus](tmp_path)
    out = tmp_path / "m" / f"{corpus}.csv"
    prepare(root, out, **kwargs)
    first = out.read_bytes()
    prepare(root, out, **kwargs)
    assert out.read_bytes() == first
    if corpus != "generic":  # portable: paths are relative to {data_root}
        assert str(tmp_path) not in first.decode()


def test_read_manifest_missing_says_how_to_make_it(tmp_path):
    with pytest.raises(DataError, match="make manifests CORPUS=emodb"):
        read_corpus(tmp_path, "emodb")
    with pytest.raises(DataError, match=f"manifest {tmp_path / 'x.csv'} not found$"):
        read_manifest(tmp_path / "x.csv")


def test_read_manifest_data_root_override(tmp_path):
    root = make_emodb(tmp_path)
    out = tmp_path / "emodb.csv"
    prepare_emodb(root, out)
    df = read_manifest(out, data_root="/elsewhere/emodb")
    assert all(p.startswith("/elsewhere/emodb/wav/") for p in df["path"])
    assert all(Path(p).is_file() for p in read_manifest(out)["path"])
