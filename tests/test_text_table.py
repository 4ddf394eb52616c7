"""Our text tables are tabulate's "simple" and "github" layouts, byte for byte (tabulate is
the independent truth here; the package itself no longer imports it)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelkin.text_table import text_table

tabulate = pytest.importorskip("tabulate").tabulate  # in the dev extra: the truth these tests compare with

cell = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False),
    st.text(alphabet="ab ×≤-|\n.", max_size=8).map(str.strip),
)
header = st.text(alphabet="hx ", min_size=1, max_size=6)


@st.composite
def tables(draw):
    """Tables as the commands build them: every row as wide as the headers, if any."""
    columns = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(cell, min_size=columns, max_size=columns), max_size=5))
    headers = draw(st.one_of(st.just([]), st.lists(header, min_size=columns, max_size=columns)))
    return rows, headers


@settings(max_examples=300, deadline=None)
@given(table=tables(), markdown=st.booleans())
def test_same_as_tabulate(table, markdown):
    rows, headers = table
    fmt = "github" if markdown else "simple"
    expected = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
    assert text_table(rows, headers, markdown=markdown) == expected


def test_the_layouts_on_a_known_table():
    rows = [["a", "bb"], ["ccc", None], ["x\ny", "z"]]
    assert text_table(rows) == "---  --\na    bb\nccc\nx    z\ny\n---  --"
    assert text_table(rows, ["H1", "Head2"], markdown=True).splitlines()[:3] == [
        "| H1   | Head2   |",
        "|------|---------|",
        "| a    | bb      |",
    ]
