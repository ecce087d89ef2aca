"""docs/model_card.md from a `make model` run: what the shipped model is, what it was trained
on and under which licences, its leave-one-corpus-out figures with per-class recall, and the
failure modes those figures show."""

from __future__ import annotations

from pathlib import Path

from .report import counted, markdown_table, percent

# language and licence of each corpus a preparer knows (../shared/data/README.md, docs/corpora.md)
CORPORA = {
    "emodb": ("German", "free for research (TU Berlin); the audb copy CC0-1.0"),
    "urdu": ("Urdu", "research use only (its README)"),
    "turev": ("Turkish", "CC BY-NC-ND 4.0"),
    "tess": ("English", "CC BY-NC-ND 4.0"),
    "emovo": ("Italian", "free for research"),
    "iemocap": ("English", "licence agreement with USC SAIL"),
    "msp_improv": ("English", "licence agreement with UT Dallas"),
}
LOW_RECALL = 0.4  # a class recalled less than this on a held-out corpus is a failure mode


def licence_notes(corpora: list[str]) -> list[str]:
    """What the training corpora's licences mean for the model: research or non-commercial
    only, NoDerivatives, or not known to this card."""
    known = {c: CORPORA[c][1] for c in corpora if c in CORPORA}
    limited = [c for c, lic in known.items() if "NC" in lic or "research" in lic]
    nd = [c for c, lic in known.items() if "ND" in lic]
    unknown = [c for c in corpora if c not in CORPORA]
    lines = []
    if limited:
        lines.append(
            f"{', '.join(limited)}: research or non-commercial use only, so this model is for "
            "research, not for a product."
        )
    if nd:
        lines.append(
            f"{', '.join(nd)}: NoDerivatives; whether a model trained on them is a derivative "
            "is not settled: ask before you redistribute the model outside research."
        )
    if unknown:
        lines.append(f"{', '.join(unknown)}: licence not known to this card; check it before use.")
    return lines


def failure_modes(loco: list[dict]) -> list[str]:
    """One line per class recalled below LOW_RECALL on a held-out corpus: its recall and the
    answer most of its utterances got instead; and each corpus where one answer took more than
    half of all utterances."""
    lines = []
    for r in loco:
        names, conf = r["class_names"], r["confusion"]
        for i, rec in enumerate(r["recall"]):
            if rec is None or rec >= LOW_RECALL:
                continue
            wrong = [(conf[i][j], names[j]) for j in range(len(names)) if j != i]
            n, other = max(wrong)
            lines.append(
                f"- {r['test']}: {names[i]} recalled {percent(rec)} %; {n} of its {sum(conf[i])} "
                f"utterances answered {other}"
            )
        answered = [sum(row[j] for row in conf) for j in range(len(names))]
        top = max(range(len(names)), key=answered.__getitem__)
        if answered[top] > sum(answered) / 2:
            lines.append(
                f"- {r['test']}: {answered[top]} of {sum(answered)} utterances answered "
                f"{names[top]}"
            )
    return lines


def model_card(meta: dict, loco: list[dict], aligned: list[dict]) -> str:
    """The card's markdown. `meta`: checkpoint, size_mb, trained_at, written_at, config,
    variant, seed, epochs, fit_min, classes (the set's name), class_names, val_speakers,
    training_level and `corpora` ({name: {speakers, utterances}}); `loco`: per held-out corpus
    test, train, uar, wa, n, recall, confusion, class_names (evaluate's results.json);
    `aligned`: the same with each held-out corpus's level aligned."""
    names = meta["class_names"]
    total = sum(c["utterances"] for c in meta["corpora"].values())
    speakers = sum(c["speakers"] for c in meta["corpora"].values())
    languages = sorted({CORPORA[c][0] for c in meta["corpora"] if c in CORPORA}) or ["not known"]
    md = [
        "# Model card: the shipped model",
        "",
        f"`{meta['checkpoint']}` ({meta['size_mb']:.1f} MB) is what `mtl-aug predict` and "
        "`mtl-aug serve` use when no `--checkpoint` is given. `make model` trained it at "
        f"commit {meta['trained_at']} and wrote this card at {meta['written_at']}; every figure "
        "below is from that run.",
        "",
        "## What it is",
        "",
        f"- `--config {meta['config']}` (configs/variant/), variant {meta['variant']}: classes "
        f"{', '.join(names)}; seed {meta['seed']}, {counted(meta['epochs'], 'epoch')}, the last "
        "one kept.",
        f"- Trained on {total} utterances of {speakers} speakers from {len(meta['corpora'])} "
        f"corpora (languages: {', '.join(languages)}); speakers "
        f"{', '.join(meta['val_speakers'])} validate and are not trained on.",
        "- A file is judged on its own: log-mel statistics of the training set (stored in the "
        "checkpoint), silence trimmed, files over 10 s averaged over 10 s windows; audio without "
        "speech gets no emotion (docs/speech_check.md); accepted inputs in docs/inputs.md.",
        f"- Its training level (median active level of its training utterances): "
        f"{meta['training_level']:.1f} dBFS; `predict --align-level` moves a folder of 10 or more "
        "recordings onto it by one gain.",
        f"- Training took {meta['fit_min']:.1f} min on the development machine (2 CPU cores, "
        "no GPU); leave-one-corpus-out below took one such training per corpus."
        if meta["fit_min"] is not None
        else "- Training time: not recorded (a run finished before fit times were kept).",
        "",
        "## Training data and licences",
        "",
    ]
    rows = []
    for c, v in meta["corpora"].items():
        language, licence = CORPORA.get(c, ("?", "see its documentation"))
        rows.append([c, language, v["speakers"], v["utterances"], licence])
    md += markdown_table(
        ["corpus", "language", "speakers", f"utterances ({meta['classes']})", "licence upstream"],
        rows,
    )
    md += ["", *licence_notes(list(meta["corpora"])), ""]
    md += [
        "## On a corpus it has not heard: leave one corpus out",
        "",
        "The same recipe, trained on all corpora but one and tested on every utterance of that "
        "one, a file at a time (what a user with new recordings gets), and with the held-out "
        "corpus's level moved by one gain onto the training level (`--align-level`: needs the "
        "corpus's other recordings, not only the file judged). UAR: mean recall over the "
        "classes the held-out corpus has.",
        "",
    ]
    md += markdown_table(
        [
            "held out",
            "UAR %",
            "WA %",
            f"recall {' / '.join(names)} %",
            "UAR %, level aligned",
            "utterances",
        ],
        [
            [
                r["test"],
                percent(r["uar"]),
                percent(r["wa"]),
                " / ".join(map(percent, r["recall"])),
                percent(a["uar"]),
                r["n"],
            ]
            for r, a in zip(loco, aligned, strict=True)
        ],
    )
    mean = sum(r["uar"] for r in loco) / len(loco)
    mean_aligned = sum(a["uar"] for a in aligned) / len(aligned)
    md += [
        "",
        f"Mean UAR over the {len(loco)} held-out corpora: {100 * mean:.1f} % a file at a time, "
        f"{100 * mean_aligned:.1f} % with the level aligned. The shipped model "
        "is trained on all of them: the table says what its recipe does on a corpus it has not "
        "heard, not how it does on these corpora's own utterances.",
        "",
        "## Known failure modes",
        "",
        f"From the table above (classes recalled below {100 * LOW_RECALL:.0f} %, answers that "
        "take most utterances):",
        "",
        *(failure_modes(loco) or ["- none below that line"]),
        "",
        f"And by construction: {len(names)} classes only (any other emotion, e.g. fear or "
        "disgust, is answered as one of them); a language or recording set-up outside the "
        "training corpora is the table's situation at best.",
        "",
    ]
    return "\n".join(md)


def write_card(path: Path, meta: dict, loco: list[dict], aligned: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model_card(meta, loco, aligned))
    return path
