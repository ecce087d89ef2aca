"""The TESS, EMOVO and nEMO preparers on fake corpora in their native layouts (tiny sine WAVs),
and on the real copies under $MTL_AUG_CORPORA (default: the repository's parent folder +
/corpora) where present: labels, speakers, skipped and excluded files, the full-corpus count
check, the class maps."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from builders import sidecar, skip_reason_of, write_audio, write_bad

from mtl_aug.cli import main
from mtl_aug.config import load_config
from mtl_aug.data.corpora import emovo as emovo_module
from mtl_aug.data.corpora import nemo as nemo_module
from mtl_aug.data.corpora import prepare_emovo, prepare_nemo, prepare_tess
from mtl_aug.data.corpora import tess as tess_module
from mtl_aug.data.datamodule import load_labelled
from mtl_aug.data.manifest import apply_class_map, read_manifest
from mtl_aug.errors import DataError

CORPORA = Path(
    os.environ.get("MTL_AUG_CORPORA", Path(__file__).resolve().parents[1].parent / "corpora")
)
SR = 8000  # tiny files: the preparers read every sample

# TESS: folder -> file stems; folder names as different copies spell them
TESS_FILES = {
    "OAF_angry": ["OAF_back_angry", "OAF_bath_angry"],
    "YAF_angry": ["YAF_bath_angry"],
    "OAF_Fear": ["OAF_bath_fear"],
    "YAF_disgust": ["YAF_bath_disgust"],
    "OAF_happy": ["OAF_bath_happy"],
    "OAF_neutral": ["OAF_bath_neutral", "OA_bite_neutral"],  # OA_: the upstream typo
    "OAF_Pleasant_surprise": ["OAF_bath_ps"],
    "YAF_pleasant_surprised": ["YAF_bath_ps"],
    "YAF_sad": ["YAF_beg_sad", "YAF_bath_sad"],
}
TESS_KEPT = {s for stems in TESS_FILES.values() for s in stems} - {"OAF_back_angry", "YAF_beg_sad"}
TESS_NATIVE = Counter(
    {"angry": 2, "disgust": 1, "fear": 1, "happy": 1, "neutral": 2, "ps": 2, "sad": 1}
)
# EMOVO: (emotion, speaker, sentence); f1's rab file mono as in the real copy
EMOVO_FILES = [
    (emo, spk, sent)
    for emo in ("dis", "gio", "neu", "pau", "rab", "sor", "tri")
    for spk, sent in (("f1", "b1"), ("m2", "n3"))
]
EMOVO_NATIVE = Counter({e: 2 for e in ("dis", "gio", "neu", "pau", "rab", "sor", "tri")})
# nEMO: data.tsv rows (file stem, emotion, speaker, gender); every emotion twice, 3 speakers
NEMO_EMOTIONS = ("anger", "fear", "happiness", "neutral", "sadness", "surprised")
NEMO_ROWS = [
    (f"{spk}_{emo}_{n}", emo, spk, gender)
    for emo in NEMO_EMOTIONS
    for n, (spk, gender) in enumerate((("EB0", "female"), ("WR0", "male")), 1)
] + [("MP0_anger_7", "anger", "MP0", "male")]
NEMO_MISSING = "WR0_fear_2"  # listed in data.tsv, no audio file
NEMO_UNLISTED = "KS0_anger_3"  # an audio file in samples/ that data.tsv does not list
NEMO_NATIVE = Counter({e: 2 for e in NEMO_EMOTIONS}) + Counter({"anger": 1})
NEMO_HEADER = "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"


def make_tess(root: Path) -> Path:
    """<root>/TESS Toronto emotional speech set data/<folder>/<stem>.wav, nested as in the
    copies (the preparer searches the whole tree)."""
    base = root / "TESS Toronto emotional speech set data"
    for i, (folder, stems) in enumerate(TESS_FILES.items()):
        for stem in stems:
            write_audio(base / folder / f"{stem}.wav", seconds=0.05, sr=SR, freq=200 + 20 * i)
    return root


def make_emovo(root: Path) -> Path:
    """<root>/data/EMOVO/<speaker>/<emo>-<speaker>-<sentence>.wav, stereo 48 kHz-style layout."""
    base = root / "data" / "EMOVO"
    for emo, spk, sent in EMOVO_FILES:
        mono = (emo, spk) == ("rab", "f1")
        write_audio(
            base / spk / f"{emo}-{spk}-{sent}.wav", seconds=0.05, sr=SR, channels=1 + (not mono)
        )
    (base / "documents").mkdir()
    (base / "documents" / "readme.txt").write_text("EMOVO")  # not audio: counted on stderr
    return root


def nemo_line(stem: str, emo: str, spk: str, gender: str) -> str:
    """A data.tsv row as upstream writes it: speaker ids left-padded with spaces; a text that
    opens with a quote it never closes (read as it is: no quoted field runs on into the rows
    below)."""
    return f'{stem}.wav\t{emo}\t"Tak - powiedział.\ttak powiedział\t        {spk}\t{gender}\t23\n'


def make_nemo(root: Path, missing: bool = True, unlisted: bool = True) -> Path:
    """<root>/download/nEMO-main/{data.tsv, samples/<stem>.wav}, nested as an unpacked archive
    may be (the preparer searches the tree for data.tsv), beside a hand-made CSV it ignores."""
    base = root / "download" / "nEMO-main"
    base.mkdir(parents=True)
    (base / "data.tsv").write_text(
        NEMO_HEADER + "".join(nemo_line(*row) for row in NEMO_ROWS), encoding="utf-8"
    )
    (base / "generic.csv").write_text("path,speaker,emotion\nsamples/EB0_anger_1.wav,EB0,x\n")
    for i, (stem, *_) in enumerate(NEMO_ROWS):
        if not (missing and stem == NEMO_MISSING):
            write_audio(base / "samples" / f"{stem}.wav", seconds=0.05, sr=SR, freq=200 + 20 * i)
    if unlisted:
        write_audio(base / "samples" / f"{NEMO_UNLISTED}.wav", seconds=0.05, sr=SR)
    return root


# ================================================================ TESS


def test_tess_rows_speakers_labels_and_the_replaced_files(tmp_path, capsys):
    out = tmp_path / "m" / "tess.csv"
    assert (
        main(["prepare", "tess", str(make_tess(tmp_path / "c")), "--out-dir", str(out.parent)]) == 0
    )
    printed, warned = capsys.readouterr()
    df = read_manifest(out)
    assert set(df["utt_id"]) == TESS_KEPT
    assert Counter(df["emotion"]) == TESS_NATIVE  # codes from the names, folders in any case
    rows = {r["utt_id"]: r for r in df.to_dict("records")}
    for stem, r in rows.items():
        assert r["speaker"] == ("YAF" if stem.startswith("YAF") else "OAF")
        assert (r["gender"], r["corpus"], r["style"]) == ("F", "tess", "acted")
    assert rows["OA_bite_neutral"]["speaker"] == "OAF"  # the speaker from its folder
    # the two replaced recordings: left out, counted and reported with the reason
    reason = "excluded: " + tess_module.REPLACED_REASON
    assert sidecar(out)["skipped"] == {
        reason: [
            str(tmp_path / "c" / "TESS Toronto emotional speech set data" / p)
            for p in ("OAF_angry/OAF_back_angry.wav", "YAF_sad/YAF_beg_sad.wav")
        ]
    }
    assert f"2  {reason}  (OAF_back_angry.wav, YAF_beg_sad.wav)" in printed
    assert "tess: MISMATCH: 10 utterances where the full corpus has 2798 (angry 2 of 399" in warned


def test_tess_bad_names_are_skipped_counted_and_raise_in_strict_mode(tmp_path, monkeypatch):
    root = make_tess(tmp_path / "c")
    base = root / "TESS Toronto emotional speech set data"
    bad = {
        "OAF_angry/OAF_dog_sad.wav": "the file name's emotion differs from its folder's",
        "YAF_angry/OAF_cat_angry.wav": "the file name's speaker differs from its folder's",
        "OAF_bored/OAF_bath_bored.wav": "unknown emotion folder 'OAF_bored'",
        "YAF_happy/take2.wav": "file name not of the form <speaker>_<word>_<emotion>",
    }
    for rel in bad:
        write_audio(base / rel, seconds=0.05, sr=SR)
    write_bad(base / "YAF_happy" / "YAF_mob_happy.wav", "truncated")
    out = tmp_path / "tess.csv"
    monkeypatch.setattr(tess_module, "EXPECTED", dict(TESS_NATIVE))  # the count check passes
    df = prepare_tess(root, out)
    assert set(df["utt_id"]) == TESS_KEPT
    for rel, reason in bad.items():
        assert skip_reason_of(out, Path(rel).name) == reason
    assert "truncated" in skip_reason_of(out, "YAF_mob_happy.wav")
    assert sum(map(len, sidecar(out)["skipped"].values())) == 2 + len(bad) + 1
    with pytest.raises(DataError, match="OAF_dog_sad.wav: the file name's emotion differs"):
        prepare_tess(root, tmp_path / "strict.csv", strict=True)


def test_tess_count_check_passes_on_the_full_count_and_fails_clearly_otherwise(
    tmp_path, monkeypatch
):
    root = make_tess(tmp_path / "c")
    out = tmp_path / "tess.csv"
    # strict mode with the real counts: 10 fake files are not TESS's 2,798
    with pytest.raises(
        DataError,
        match=r"tess: MISMATCH: 10 utterances where the full corpus "
        r"has 2798 \(angry 2 of 399, disgust 1 of 400, fear 1 of 400, ",
    ):
        prepare_tess(root, out, strict=True)
    # counts as expected: strict passes (the replaced files are exclusions, not errors)
    monkeypatch.setattr(tess_module, "EXPECTED", dict(TESS_NATIVE))
    prepare_tess(root, out, strict=True)
    assert sidecar(out)["check"] == "10 utterances, as in the full corpus"
    assert sidecar(out)["expected"] == 10
    # one file unreadable: the count check names the emotion it is missing from
    write_bad(
        root / "TESS Toronto emotional speech set data" / "OAF_happy" / "OAF_bath_happy.wav", "text"
    )
    prepare_tess(root, out)
    assert sidecar(out)["check"].startswith(
        "MISMATCH: 9 utterances where the full corpus has 10 (happy 0 of 1)"
    )


def test_tess_four_class_and_ekman7(tmp_path):
    out = tmp_path / "tess.csv"
    prepare_tess(make_tess(tmp_path / "c"), out)
    kept, names, dropped = apply_class_map(read_manifest(out), "four_class")
    expect = {"angry": "angry", "happy": "happy", "neutral": "neutral", "sad": "sad"}
    assert all(
        names[lab] == expect[e] for e, lab in zip(kept["emotion"], kept["label"], strict=True)
    )
    assert len(kept) == 6 and dropped == Counter({"disgust": 1, "fear": 1, "ps": 2})
    kept, names, dropped = apply_class_map(read_manifest(out), "ekman7")
    assert not dropped and len(kept) == 10
    assert Counter(names[lab] for lab in kept["label"]) == Counter(
        {
            "anger": 2,
            "disgust": 1,
            "fear": 1,
            "happiness": 1,
            "neutral": 2,
            "surprise": 2,
            "sadness": 1,
        }
    )
    # training reads it by name, in the default four classes
    df, names, dropped = load_labelled(load_config("tess", [], [f"data.manifest_dir={tmp_path}"]))
    assert len(df) == 6 and names == ["angry", "happy", "neutral", "sad"]


def test_tess_wrong_root_names_the_layout(tmp_path):
    write_audio(tmp_path / "wav" / "03a01Wa.wav", seconds=0.05, sr=SR)
    with pytest.raises(DataError, match="is this TESS"):
        prepare_tess(tmp_path, tmp_path / "tess.csv")
    with pytest.raises(DataError, match="does not exist"):
        prepare_tess(tmp_path / "nowhere", tmp_path / "tess.csv")


# ================================================================ EMOVO


def test_emovo_rows_speakers_gender_labels_channels(tmp_path, capsys):
    out = tmp_path / "m" / "emovo.csv"
    assert (
        main(["prepare", "emovo", str(make_emovo(tmp_path / "c")), "--out-dir", str(out.parent)])
        == 0
    )
    printed = capsys.readouterr()
    df = read_manifest(out)
    assert set(df["utt_id"]) == {f"{e}-{s}-{n}" for e, s, n in EMOVO_FILES}
    assert Counter(df["emotion"]) == EMOVO_NATIVE
    rows = {r["utt_id"]: r for r in df.to_dict("records")}
    for emo, spk, sent in EMOVO_FILES:
        r = rows[f"{emo}-{spk}-{sent}"]
        assert (r["speaker"], r["gender"], r["emotion"]) == (spk, spk[0].upper(), emo)
        # loading averages the channels; the manifest records how many there are
        assert r["channels"] == (1 if (emo, spk) == ("rab", "f1") else 2)
    assert sidecar(out)["skipped"] == {}
    assert "skipped 0" in printed.out and "1 files not read" in printed.err
    assert "emovo: MISMATCH: 14 utterances where the full corpus has 588" in printed.err


def test_emovo_bad_names_are_skipped_counted_and_raise_in_strict_mode(tmp_path, monkeypatch):
    root = make_emovo(tmp_path / "c")
    base = root / "data" / "EMOVO"
    bad = {
        "f1/xyz-f1-b2.wav": "unknown emotion code 'xyz'",
        "f1/dis-f4-b2.wav": "unknown speaker 'f4'",
        "m1/dis-f1-b3.wav": "the file name's speaker differs from its folder's",
        "m1/take 2.wav": "file name not of the form <emotion>-<speaker>-<sentence>",
    }
    for rel in bad:
        write_audio(base / rel, seconds=0.05, sr=SR)
    out = tmp_path / "emovo.csv"
    monkeypatch.setattr(emovo_module, "EXPECTED", dict(EMOVO_NATIVE))
    assert len(prepare_emovo(root, out)) == 14
    for rel, reason in bad.items():
        assert skip_reason_of(out, Path(rel).name) == reason
    with pytest.raises(DataError, match="dis-f4-b2.wav: unknown speaker 'f4'"):
        prepare_emovo(root, tmp_path / "strict.csv", strict=True)


def test_emovo_count_check(tmp_path, monkeypatch):
    root = make_emovo(tmp_path / "c")
    with pytest.raises(
        DataError,
        match=r"emovo: MISMATCH: 14 utterances where the full corpus "
        r"has 588 \(dis 2 of 84, ",
    ):
        prepare_emovo(root, tmp_path / "emovo.csv", strict=True)
    monkeypatch.setattr(emovo_module, "EXPECTED", dict(EMOVO_NATIVE))
    prepare_emovo(root, tmp_path / "emovo.csv", strict=True)
    assert sidecar(tmp_path / "emovo.csv")["check"] == "14 utterances, as in the full corpus"


def test_emovo_four_class_and_ekman7(tmp_path):
    out = tmp_path / "emovo.csv"
    prepare_emovo(make_emovo(tmp_path / "c"), out)
    kept, names, dropped = apply_class_map(read_manifest(out), "four_class")
    expect = {"rab": "angry", "gio": "happy", "neu": "neutral", "tri": "sad"}
    assert all(
        names[lab] == expect[e] for e, lab in zip(kept["emotion"], kept["label"], strict=True)
    )
    assert len(kept) == 8 and dropped == Counter({"dis": 2, "pau": 2, "sor": 2})
    kept, names, dropped = apply_class_map(read_manifest(out), "ekman7")
    expect = {
        "rab": "anger",
        "dis": "disgust",
        "pau": "fear",
        "gio": "happiness",
        "tri": "sadness",
        "sor": "surprise",
        "neu": "neutral",
    }
    assert not dropped and len(kept) == 14
    assert all(
        names[lab] == expect[e] for e, lab in zip(kept["emotion"], kept["label"], strict=True)
    )


def test_emovo_wrong_root_names_the_layout(tmp_path):
    write_audio(tmp_path / "Angry" / "SM1_F01_A01.wav", seconds=0.05, sr=SR)
    with pytest.raises(DataError, match="is this EMOVO"):
        prepare_emovo(tmp_path, tmp_path / "emovo.csv")


# ================================================================ nEMO


def test_nemo_rows_speakers_labels_and_the_missing_and_unlisted_files(tmp_path, capsys):
    out = tmp_path / "m" / "nemo.csv"
    root = make_nemo(tmp_path / "c")
    assert main(["prepare", "nemo", str(root), "--out-dir", str(out.parent)]) == 0
    printed, warned = capsys.readouterr()
    df = read_manifest(out)
    assert set(df["utt_id"]) == {row[0] for row in NEMO_ROWS} - {NEMO_MISSING}
    assert Counter(df["emotion"]) == NEMO_NATIVE - Counter({"fear": 1})
    rows = {r["utt_id"]: r for r in df.to_dict("records")}
    for stem, emo, spk, gender in NEMO_ROWS:
        if stem != NEMO_MISSING:
            r = rows[stem]
            # the speaker id without its padding, gender as M/F, the tsv's emotion word
            assert (r["speaker"], r["gender"], r["emotion"]) == (spk, gender[0].upper(), emo)
            assert (r["corpus"], r["style"], r["sample_rate"]) == ("nemo", "acted", SR)
            assert r["path"] == str(root / "download" / "nEMO-main" / "samples" / f"{stem}.wav")
    samples = root / "download" / "nEMO-main" / "samples"
    assert sidecar(out)["skipped"] == {
        "audio file missing (listed in data.tsv)": [str(samples / f"{NEMO_MISSING}.wav")],
        "audio file not listed in data.tsv": [str(samples / f"{NEMO_UNLISTED}.wav")],
    }
    assert "skipped 2:" in printed
    assert f"1  audio file missing (listed in data.tsv)  ({NEMO_MISSING}.wav)" in printed
    assert f"1  audio file not listed in data.tsv  ({NEMO_UNLISTED}.wav)" in printed
    assert "generic.csv" not in printed + warned  # only samples/ is searched for audio
    assert (
        "nemo: MISMATCH: 12 utterances where the full corpus has 4481 (anger 3 of 749, "
        "fear 1 of 736, " in warned
    )


def test_nemo_bad_rows_are_skipped_counted_and_raise_in_strict_mode(tmp_path, monkeypatch):
    root = make_nemo(tmp_path / "c", missing=False, unlisted=False)
    base = root / "download" / "nEMO-main"
    bad = {
        "EB0_bored_1": ("bored", "EB0", "female", "unknown emotion 'bored'"),
        "EB0_anger_2": ("anger", "", "female", "empty speaker_id"),
        "EB0_anger_3": ("anger", "EB0", "x", "unknown gender 'x'"),
        "EB0_anger_4": ("anger", "WR0", "male", "the file name's speaker differs from data.tsv's"),
        "EB0_anger_5": ("fear", "EB0", "female", "the file name's emotion differs from data.tsv's"),
        "EB0_anger_6": ("anger", "EB0", "female", "not readable as audio (LibsndfileError)"),
    }
    lines = [nemo_line(stem, emo, spk, g) for stem, (emo, spk, g, _) in bad.items()]
    lines.append(nemo_line("EB0_anger_1", "anger", "EB0", "female"))  # listed twice
    with open(base / "data.tsv", "a", encoding="utf-8") as f:
        f.write("".join(lines))
    for stem in bad:
        write_audio(base / "samples" / f"{stem}.wav", seconds=0.05, sr=SR)
    write_bad(base / "samples" / "EB0_anger_6.wav", "text")
    monkeypatch.setattr(nemo_module, "EXPECTED", dict(NEMO_NATIVE))  # the count check passes
    out = tmp_path / "nemo.csv"
    assert len(prepare_nemo(root, out)) == len(NEMO_ROWS)
    for stem, (*_, reason) in bad.items():
        assert skip_reason_of(out, f"{stem}.wav") == reason
    assert sidecar(out)["skipped"]["listed again in data.tsv"] == [
        str(base / "samples" / "EB0_anger_1.wav")
    ]
    assert sum(map(len, sidecar(out)["skipped"].values())) == len(bad) + 1
    assert sidecar(out)["check"] == f"{len(NEMO_ROWS)} utterances, as in the full corpus"
    with pytest.raises(DataError, match="EB0_bored_1.wav: unknown emotion 'bored'"):
        prepare_nemo(root, tmp_path / "strict.csv", strict=True)


def test_nemo_count_check_passes_on_the_full_count_and_fails_clearly_otherwise(
    tmp_path, monkeypatch
):
    root = make_nemo(tmp_path / "c", missing=False, unlisted=False)
    out = tmp_path / "nemo.csv"
    with pytest.raises(
        DataError,
        match=r"nemo: MISMATCH: 13 utterances where the full corpus has 4481 "
        r"\(anger 3 of 749, fear 2 of 736, happiness 2 of 749, neutral 2 of 809, "
        r"sadness 2 of 769, surprised 2 of 669\): a partial copy, or files skipped$",
    ):
        prepare_nemo(root, out, strict=True)
    monkeypatch.setattr(nemo_module, "EXPECTED", dict(NEMO_NATIVE))
    prepare_nemo(root, out, strict=True)
    assert sidecar(out)["check"] == "13 utterances, as in the full corpus"
    assert sidecar(out)["expected"] == 13
    # a listed file gone: skipped (an error in strict mode), and the check names its emotion
    (root / "download" / "nEMO-main" / "samples" / f"{NEMO_MISSING}.wav").unlink()
    with pytest.raises(DataError, match=f"{NEMO_MISSING}.wav: audio file missing"):
        prepare_nemo(root, out, strict=True)
    prepare_nemo(root, out)
    assert sidecar(out)["check"].startswith(
        "MISMATCH: 12 utterances where the full corpus has 13 (fear 1 of 2)"
    )


def test_nemo_four_class_and_ekman7(tmp_path):
    out = tmp_path / "nemo.csv"
    prepare_nemo(make_nemo(tmp_path / "c"), out)
    kept, names, dropped = apply_class_map(read_manifest(out), "four_class")
    expect = {"anger": "angry", "happiness": "happy", "neutral": "neutral", "sadness": "sad"}
    assert all(
        names[lab] == expect[e] for e, lab in zip(kept["emotion"], kept["label"], strict=True)
    )
    assert len(kept) == 9 and dropped == Counter({"fear": 1, "surprised": 2})
    kept, names, dropped = apply_class_map(read_manifest(out), "ekman7")
    assert not dropped and len(kept) == 12
    assert Counter(names[lab] for lab in kept["label"]) == Counter(
        {"anger": 3, "fear": 1, "happiness": 2, "neutral": 2, "sadness": 2, "surprise": 2}
    )
    df, names, dropped = load_labelled(load_config("nemo", [], [f"data.manifest_dir={tmp_path}"]))
    assert len(df) == 9 and names == ["angry", "happy", "neutral", "sad"]


def test_nemo_wrong_root_or_table_names_the_file(tmp_path):
    write_audio(tmp_path / "a" / "samples" / "EB0_anger_1.wav", seconds=0.05, sr=SR)
    with pytest.raises(DataError, match="no data.tsv under .*: is this nEMO"):
        prepare_nemo(tmp_path / "a", tmp_path / "nemo.csv")
    with pytest.raises(DataError, match="does not exist"):
        prepare_nemo(tmp_path / "nowhere", tmp_path / "nemo.csv")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "data.tsv").write_text(NEMO_HEADER)
    with pytest.raises(DataError, match=r"b/data.tsv: no samples/ folder beside it"):
        prepare_nemo(tmp_path / "b", tmp_path / "nemo.csv")
    (tmp_path / "a" / "data.tsv").write_text("file_id\temotion\tspeaker\n")
    with pytest.raises(DataError, match=r"a/data.tsv: missing columns \['speaker_id', 'gender'\]"):
        prepare_nemo(tmp_path / "a", tmp_path / "nemo.csv")
    with pytest.raises(DataError, match="2 files named data.tsv under"):
        prepare_nemo(tmp_path, tmp_path / "nemo.csv")


# ================================================================ the real copies


def real_copy(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        pytest.skip(f"real {name} not available: {path} does not exist (set MTL_AUG_CORPORA)")
    return path


def test_real_tess(tmp_path):
    out = tmp_path / "tess.csv"
    prepare_tess(real_copy("tess"), out, strict=True)  # strict: the full count, no bad file
    df = read_manifest(out)
    assert len(df) == 2798
    assert Counter(df["speaker"]) == Counter({"OAF": 1399, "YAF": 1399})
    assert Counter(df["emotion"]) == Counter(
        {
            "angry": 399,
            "disgust": 400,
            "fear": 400,
            "happy": 400,
            "neutral": 400,
            "ps": 400,
            "sad": 399,
        }
    )
    assert not {"OAF_back_angry", "YAF_beg_sad"} & set(df["utt_id"])
    assert sum(map(len, sidecar(out)["skipped"].values())) == 2
    kept, _, dropped = apply_class_map(df, "four_class")
    assert len(kept) == 1598 and dropped == Counter({"disgust": 400, "fear": 400, "ps": 400})


def test_real_emovo(tmp_path):
    out = tmp_path / "emovo.csv"
    prepare_emovo(real_copy("emovo"), out, strict=True)
    df = read_manifest(out)
    assert len(df) == 588 and sidecar(out)["skipped"] == {}
    assert Counter(df["speaker"]) == Counter({s: 98 for s in ("f1", "f2", "f3", "m1", "m2", "m3")})
    assert Counter(df["emotion"]) == Counter({e: 84 for e in EMOVO_NATIVE})
    assert Counter(df.drop_duplicates("speaker")["gender"]) == Counter({"F": 3, "M": 3})
    assert set(df["sample_rate"]) == {48000}
    kept, _, dropped = apply_class_map(df, "four_class")
    assert len(kept) == 336 and dropped == Counter({"dis": 84, "pau": 84, "sor": 84})


def test_real_nemo(tmp_path):
    out = tmp_path / "nemo.csv"
    prepare_nemo(real_copy("nemo"), out, strict=True)
    df = read_manifest(out)
    assert len(df) == 4481 and sidecar(out)["skipped"] == {}
    assert Counter(df["emotion"]) == Counter(
        {
            "anger": 749,
            "fear": 736,
            "happiness": 749,
            "neutral": 809,
            "sadness": 769,
            "surprised": 669,
        }
    )
    assert Counter(df["speaker"]) == Counter(
        {
            "KS0": 540,
            "KD0": 540,
            "IC0": 540,
            "WR0": 539,
            "EB0": 539,
            "TP0": 539,
            "SM0": 538,
            "MK0": 450,
            "MP0": 256,
        }
    )
    assert Counter(df.drop_duplicates("speaker")["gender"]) == Counter({"F": 4, "M": 5})
    assert set(df["sample_rate"]) == {24000} and set(df["channels"]) == {1}
    kept, _, dropped = apply_class_map(df, "four_class")
    assert len(kept) == 3076 and dropped == Counter({"fear": 736, "surprised": 669})
