"""docs/reference.md is exactly what the models render: it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from drsim.model.documents import KINDS
from drsim.model.reference import render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_committed_reference_matches_the_models() -> None:
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), "regenerate it: python -m drsim.model.reference > docs/reference.md"


def test_reference_documents_every_kind_action_and_key() -> None:
    text = render_reference()
    for kind in KINDS:
        assert f"\n## {kind}\n" in text
    for action in ("asr.test_failover", "backup.restore", "snapshot.clone", "image.deploy", "check.canary", "network.isolate"):
        assert f"| `{action}` |" in text
    for key in ("`instant_restore_days`", "`consistency_group`", "`detected_after`", "`as`", "`incident_at`", "`candidates`"):
        assert f"| {key} |" in text


def test_every_link_in_the_reference_has_its_section() -> None:
    text = render_reference()
    anchors = {line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("#")}
    links = {part.split(")")[0] for part in text.split("](#")[1:]}
    assert links <= anchors, links - anchors
