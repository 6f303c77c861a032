"""Fixtures for report tests: run directories written the way the engine writes them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from report_fixtures import FIXTURES


@pytest.fixture
def shop_dir(tmp_path: Path) -> Path:
    """A copy of the committed shop-asr run (result.json + journal.jsonl), safe to render into."""
    target = tmp_path / "reports" / "2026-q4-shop-asr" / "20261120-140000-s42"
    shutil.copytree(FIXTURES / "shop-asr", target)
    return target
