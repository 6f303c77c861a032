"""The control mapping: the controls the issue names, ids a Drill accepts, documented in docs/compliance.md."""

from __future__ import annotations

from pathlib import Path

from drsim.model.documents import Evidence
from drsim.report.controls import EvidenceKind, all_controls, control_ids, select_controls

DOC = Path(__file__).resolve().parents[2] / "docs" / "compliance.md"


def test_the_mapping_covers_the_named_frameworks() -> None:
    assert set(control_ids()) == {
        "iso27001-2022:A.5.29",
        "iso27001-2022:A.5.30",
        "iso27001-2022:A.8.13",
        "iso27001-2022:A.8.14",
        "iso22301-2019:8.5",
        "soc2:A1.2",
        "soc2:A1.3",
        "nist-800-53:CP-4",
        "nist-800-53:CP-9",
        "nist-800-53:CP-10",
        "dora:Art.11",
        "dora:Art.12",
    }


def test_every_id_is_one_a_drill_may_name() -> None:
    assert Evidence(controls=control_ids()).controls == control_ids()


def test_every_evidence_kind_is_used() -> None:
    used = {kind for control in all_controls() for kind in control.evidenced_by}
    assert used == set(EvidenceKind)


def test_docs_list_every_control_with_its_evidence() -> None:
    text = DOC.read_text(encoding="utf-8")
    for control in all_controls():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{control.id}` |")), None)
        assert row is not None, control.id
        assert all(f"`{kind.value}`" in row for kind in control.evidenced_by), control.id
    for kind in EvidenceKind:
        assert f"| `{kind.value}` |" in text


def test_selection_keeps_order_and_unknown_ids() -> None:
    chosen = select_controls(["soc2:A1.3", "acme:X-1", "iso27001-2022:A.5.30", "soc2:A1.3"])
    assert [c.id for c in chosen.controls] == ["soc2:A1.3", "iso27001-2022:A.5.30"]
    assert chosen.unknown == ("acme:X-1",) and not chosen.all_by_default
    everything = select_controls(())
    assert everything.all_by_default and len(everything.controls) == 12


def test_control_ids_match_whatever_their_case() -> None:
    chosen = select_controls(["ISO27001-2022:A.5.30", "SOC2:a1.3", "iso27001-2022:A.5.30"])
    assert [c.id for c in chosen.controls] == ["iso27001-2022:A.5.30", "soc2:A1.3"] and chosen.unknown == ()
