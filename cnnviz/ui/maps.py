"""The network overview's clickable maps (``assets/maps``): a column per stage, and one map enlarged, each
reporting what was clicked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnviz.assets import MAPS_DIR
from cnnviz.ui.components import shipped_component


def map_columns(
    columns: list[dict[str, Any]],
    selected: tuple[int, int] | None,
    key: str,
    on_pick: Callable[[], None],
    cell: int = 56,
) -> None:
    """Columns of maps (each ``{"title", "name", "subtitle", "maps": [{"src", "label", "rows", "cols"}]}``; the
    ``name`` shown on hover over a shortened title), the map
    ``selected`` (column, map) framed. A click calls ``on_pick`` before the rerun, with ``{"column", "map"}`` in
    ``st.session_state[key]["picked"]``."""
    data = {"kind": "columns", "columns": columns, "selected": selected, "cell": cell}
    shipped_component("cnnviz_maps", MAPS_DIR, "maps")(data=data, key=key, width="stretch", on_picked_change=on_pick)


def map_cells(
    src: str,
    rows: int,
    cols: int,
    selected: tuple[int, int] | None,
    key: str,
    label: str,
    values: list[str],
    width: int,
    on_pick: Callable[[], None],
) -> None:
    """One map ``width`` px wide whose cells can be clicked (``values``: each cell's text on hover), the cell
    ``selected`` framed. A click calls ``on_pick`` before the rerun, with ``{"row", "col"}`` in
    ``st.session_state[key]["picked"]``."""
    data = {
        "kind": "map",
        "src": src,
        "rows": rows,
        "cols": cols,
        "selected": selected,
        "label": label,
        "values": values,
        "width": width,
    }
    shipped_component("cnnviz_maps", MAPS_DIR, "maps")(data=data, key=key, width="stretch", on_picked_change=on_pick)
