"""`--help` of every command against its golden (tests/golden/help/<command>.txt), and the CLI reference
docs/cli.md against the help it is generated from. typer lays help out differently from one minor release to the
next, so both comparisons run only under the typer version docs/cli.md records (the others skip, saying so).

After an intended change to a flag or a help text:
    pytest tests/test_help.py --update-golden     # rewrite the goldens, then review `git diff tests/golden/help`
    python scripts/generate_cli_docs.py           # rewrite docs/cli.md
"""

from __future__ import annotations

from pathlib import Path

import pytest
from generate_cli_docs import (
    DOC,
    REGEN,
    command_paths,
    golden_name,
    heading,
    help_text,
    recorded_typer_version,
    render_docs,
    typer_version,
)

GOLDEN = Path(__file__).parent / "golden"

PATHS = command_paths()
RECORDED = recorded_typer_version(DOC.read_text()) if DOC.exists() else None
same_typer = pytest.mark.skipif(
    RECORDED is not None and RECORDED != typer_version(),
    reason=f"the help goldens and docs/cli.md were made with typer {RECORDED}; this is typer {typer_version()}",
)


@same_typer
@pytest.mark.parametrize("path", PATHS, ids=[golden_name(p)[:-4] for p in PATHS])
def test_help_matches_its_golden(golden, path):
    golden(f"help/{golden_name(path)}", help_text(path))


def test_every_command_has_a_golden_and_every_golden_a_command(request):
    if request.config.getoption("--update-golden"):
        pytest.skip("rewriting the goldens")
    files = {p.name for p in (GOLDEN / "help").glob("*.txt")}
    wanted = {golden_name(p) for p in PATHS}
    assert files == wanted, (
        f"missing goldens: {sorted(wanted - files)} (run `pytest tests/test_help.py "
        f"--update-golden`); goldens of no command: {sorted(files - wanted)} (delete them)"
    )


def test_every_command_is_in_the_cli_reference():
    text = DOC.read_text() if DOC.exists() else ""
    missing = [" ".join(("tokcost", *p)) for p in PATHS if f"## {heading(p)}\n" not in text]
    assert not missing, f"docs/cli.md does not document {missing}: run `{REGEN}`"


@same_typer
def test_cli_reference_is_fresh():
    assert DOC.exists(), f"docs/cli.md is missing: run `{REGEN}`"
    assert DOC.read_text() == render_docs(), f"docs/cli.md is stale: run `{REGEN}`"
