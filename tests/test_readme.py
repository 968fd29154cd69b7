"""The README's family table covers the registry (a new family adds its row)."""

import pathlib
import re

from zoo.registry import get_family, list_families, list_models

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _family_rows():
    rows = {}
    for line in README.read_text().splitlines():
        match = re.match(r"\| [^|]+ \| `zoo/models/(\w+)\.py` \|(.*)", line)
        if match:
            rows.setdefault(match.group(1), []).append(match.group(2))
    return rows


def test_readme_family_table_lists_every_family_and_variant():
    rows = _family_rows()
    for family in list_families():
        module = get_family(family).build.__module__.rsplit(".", 1)[-1]
        assert module in rows, (
            f"README has no row for {family} (zoo/models/{module}.py)"
        )
        text = " ".join(rows[module])
        described = get_family(family)
        assert described.data_kind in text, family
        variants = [
            n for n in list_models() if n != family and get_family(n).name == family
        ]
        missing = [v for v in variants if f"`{v}`" not in text]
        assert missing == [], f"README's {family} row lacks {missing}"


def test_readme_cli_table_has_a_row_for_every_verb():
    from zoo.tuning.cli.main import build_parser

    parser = build_parser()
    verbs = next(a for a in parser._subparsers._group_actions if a.choices).choices
    rows = set(re.findall(r"^\| `zoo (\w+)", README.read_text(), re.MULTILINE))
    assert sorted(set(verbs) - rows) == []
