"""Every citation in the data (tokcost/data/: hardware/, models/, validation/, prices/) names a public source: a URL, a document
title, a paper, a public repository and path. Never a local path or the project's private notes: those are not
something a reader of the project can open."""

import re

import pytest

from tokcost.io.located import MAX_MEASUREMENTS_BYTES, MAX_MEASUREMENTS_NODES, load_file
from tokcost.io.paths import DATA_DIR

DATA_DIRS = ("hardware", "models", "validation", "prices")
FILES = sorted(p for d in DATA_DIRS for p in (DATA_DIR / d).rglob("*.yaml"))

# Text anywhere in a data file (comments included) that points at the private notes.
NOTES = re.compile(
    r"shared/|\bfacts/|/work/|\bshared facts\b|\bfacts (?:table|notes?|files?)\b|\btask brief\b", re.IGNORECASE
)
# A path that can only be opened on some machine: absolute, home, or relative to a working directory.
LOCAL_PATH = re.compile(r"^(?:/|\./|\.\./|~/)[\w.~-]")
URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# A public repository named the way the data names one: owner/name followed by a path inside it.
REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
WRAPPERS = "\"'`()[]{}<>,;:!?*"


def _token(raw: str) -> str:
    tok = raw.strip(WRAPPERS).rstrip(".").strip(WRAPPERS).rstrip(".")
    return tok.split("#", 1)[0]


def citation_problems(text: str) -> list[str]:
    """Why ``text`` is not a public citation: the offending fragments (empty when it is fine)."""
    found = [m.group(0) for m in NOTES.finditer(text)]
    words = text.split()
    for i, raw in enumerate(words):
        tok = _token(raw)
        if not tok or URL.match(tok):
            continue
        if LOCAL_PATH.match(tok):
            found.append(tok)
        elif tok.lower().endswith(".md"):
            # README.md of a public repository is cited as 'owner/name path/README.md'; a bare notes.md is not
            before = _token(words[i - 1]) if i else ""
            if not REPO.match(before):
                found.append(tok)
    return found


def _strings(value, path=()):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, path + (i,))


def test_there_is_data_to_check():
    dirs = {p.relative_to(DATA_DIR).parts[0] for p in FILES}
    assert dirs == set(DATA_DIRS)
    assert len(FILES) > 40


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(DATA_DIR)))
def test_no_local_or_private_citations(path):
    bad = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        bad += [f"line {line_no}: {m.group(0)!r}" for m in NOTES.finditer(line)]
    # the shipped data includes the validation set, whose bounds are larger than a spec's
    doc = load_file(path, MAX_MEASUREMENTS_BYTES, MAX_MEASUREMENTS_NODES)
    for where, text in _strings(doc.data):
        line, _col = doc.where(where)
        bad += [f"line {line}: {frag!r}" for frag in citation_problems(" ".join(text.split()))]
    assert not bad, (
        f"{path.relative_to(DATA_DIR)} cites local or private files instead of public sources:\n"
        + "\n".join(sorted(set(bad)))
    )


@pytest.mark.parametrize(
    "text",
    [
        "as quoted in /work/shared/facts/hardware.md",
        "see ../shared/facts/prices.md",
        "facts/prices.md, table 1",
        "./notes/prices.md",
        "~/notes.txt",
        "per models.md",
        "(claims.md).",
        "matching the linear-only count in shared facts",
        "the shared facts table gives the year only",
        "as given in the task brief",
    ],
)
def test_detector_flags_local_citations(text):
    assert citation_problems(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://github.com/FoundationVision/LlamaGen/blob/main/autoregressive/serve/README.md",
        "FoundationVision/LlamaGen autoregressive/serve/README.md, table 'Comparison (A100)'",
        "Sana paper arXiv 2410.10629 Table 7, as mirrored in NVlabs/Sana README.md 'Performance' table",
        "xdit-project/xDiT docs/performance/hunyuanvideo.md",
        "NVIDIA H100 datasheet, SXM column; bf16/fp16 989; 8 x 6.88 $/GPU-h / 8 GPUs",
        "Wan2.1 README / generate.py SUPPORTED_SIZES; shared_config sample_fps 16",
        "derived: 5.977 TFLOP computed by docs/_vae_flops.py from unet/config.json",
        "huggingface/open-muse benchmark/artifacts/all.csv (commit 64e1afe0)",
    ],
)
def test_detector_accepts_public_citations(text):
    assert citation_problems(text) == []
