"""README.md against the measurement files it quotes."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _readme_table_module():
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "experiments" / "readme_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_results_table_is_built_from_the_measurement_files():
    """Every figure of the results table comes from the JSON file its row names
    (experiments/readme_table.py): a set measured again and not copied, or a figure typed by
    hand, fails here."""
    table = _readme_table_module().table()
    assert len(table.splitlines()) == 2 + 27
    assert table in (ROOT / "README.md").read_text()
