"""Pictures of what is computed: a network's units and weights, and a computation graph with the
value and the gradient on each node (as micrograd's ``draw_dot`` shows them).

Both draw with matplotlib (imported when called) on an axes you give or on a new figure built
with matplotlib's object API (no pyplot state, as :mod:`.plotting`), and return the figure:

- :func:`plot_network`: a layer of circles per layer, units numbered from 1 as the trace and the
  derivations number them (``a¹₂`` is unit 2 of layer 1), each weight a line whose colour is its
  sign and whose width is its size; wide layers show their first and last units around a ``⋮``;
- :func:`plot_graph`: nodes (``name: (label, value, gradient)``) and edges (``(from, to)``), laid
  out left to right by depth, the forward value above each node's line and ∂L/∂node below it.
"""

from __future__ import annotations

import numpy as np

#: Units a layer shows before it is drawn as its first and last units around an ellipsis.
MAX_UNITS = 10
#: Distance between layers, in units' spacings.
GAP = 2.4
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _axes(ax, size):
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=size, dpi=100)
        FigureCanvasAgg(figure)
        ax = figure.subplots()
    ax.set_axis_off()
    return ax


def shown_units(n: int) -> list:
    """The units of a layer of ``n`` that a drawing shows (numbered from 1; None marks the ellipsis)."""
    if n <= MAX_UNITS:
        return list(range(1, n + 1))
    half = MAX_UNITS // 2
    return [*range(1, half), None, *range(n - half + 2, n + 1)]


def plot_network(model, ax=None, title: str | None = None):
    """Draw ``model`` (a :class:`~backpropagation.NeuralNetwork`, or a list of layer sizes): its
    units by layer with their activations, and its weights (blue positive, red negative, wider
    for larger; grey when only sizes are given). Returns the matplotlib figure."""
    sizes = list(model) if isinstance(model, (list, tuple)) else list(model.layer_sizes)
    weights = None if isinstance(model, (list, tuple)) else [layer.W for layer in model.layers]
    names = ["input"] + ([type(layer.activation).__name__.lower() for layer in model.layers]
                         if weights is not None else ["" for _ in sizes[1:]])
    ax = _axes(ax, (1.6 * len(sizes) + 0.6, 0.55 * min(max(sizes), MAX_UNITS) + 1.6))
    shown = [shown_units(n) for n in sizes]
    height = max(len(units) for units in shown)
    position = [{unit: (GAP * column, (len(units) - 1) / 2 - k) for k, unit in enumerate(units)}
                for column, units in enumerate(shown)]
    largest = max((float(np.abs(W).max()) for W in weights or []), default=1.0) or 1.0
    for layer in range(1, len(sizes)):
        for i, (x0, y0) in position[layer - 1].items():
            for j, (x1, y1) in position[layer].items():
                if i is None or j is None:
                    continue
                value = None if weights is None else float(weights[layer - 1][i - 1, j - 1])
                color = "0.7" if value is None else ("tab:blue" if value >= 0 else "tab:red")
                width = 1.0 if value is None else 0.3 + 2.7 * abs(value) / largest
                ax.plot([x0, x1], [y0, y1], color=color, lw=width, alpha=0.6, zorder=1)
    for layer, units in enumerate(position):
        for unit, (x, y) in units.items():
            if unit is None:
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=16)
                continue
            name = f"x{str(unit).translate(_SUBSCRIPTS)}" if layer == 0 else \
                f"a{str(layer).translate(_SUPERSCRIPTS)}{str(unit).translate(_SUBSCRIPTS)}"
            ax.add_patch(_circle(x, y, layer, len(sizes)))
            ax.text(x, y, name, ha="center", va="center", fontsize=9, zorder=3)
        caption = f"{names[layer]}\n{sizes[layer]} unit{'s' if sizes[layer] != 1 else ''}" if layer else \
            f"input\n{sizes[0]}"
        ax.text(GAP * layer, (height - 1) / 2 + 0.9, caption, ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-0.6, GAP * (len(sizes) - 1) + 0.6)
    ax.set_ylim(-(height - 1) / 2 - 0.7, (height - 1) / 2 + 1.8)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax.figure


def _circle(x, y, layer, n_layers):
    from matplotlib.patches import Circle

    color = "#dde8f6" if layer == 0 else "#f6e6d2" if layer == n_layers - 1 else "#e4f2e0"
    return Circle((x, y), 0.3, facecolor=color, edgecolor="0.3", zorder=2)


def depths(nodes, edges) -> dict:
    """Each node's column in :func:`plot_graph`: the longest path from a leaf to it."""
    parents = {name: [a for a, b in edges if b == name] for name in nodes}
    depth = {}

    def of(name, seen=()):
        if name in seen:
            raise ValueError(f"edges: the graph has a cycle through {name!r}")
        if name not in depth:
            depth[name] = 1 + max((of(p, (*seen, name)) for p in parents[name]), default=-1)
        return depth[name]
    for name in nodes:
        of(name)
    return depth


def plot_graph(nodes: dict, edges: list, ax=None, title: str | None = None):
    """Draw a computation graph: ``nodes`` maps a name to ``(label, value, gradient)`` (gradient
    None where not computed), ``edges`` lists ``(from, to)`` names. Values are shown as
    ``value`` above the node's line and ``∂L/∂·`` below it. Returns the matplotlib figure."""
    unknown = {name for edge in edges for name in edge} - set(nodes)
    if unknown:
        raise ValueError(f"edges: no node named {sorted(unknown)[0]!r}")
    depth = depths(nodes, edges)
    columns = {}
    for name in nodes:
        columns.setdefault(depth[name], []).append(name)
    tallest = max(len(names) for names in columns.values())
    position = {name: (1.9 * d, (len(names) - 1) / 2 * 1.4 - k * 1.4)
                for d, names in columns.items() for k, name in enumerate(names)}
    ax = _axes(ax, (2.1 * len(columns) + 1, 1.3 * tallest + 1.2))
    for a, b in edges:
        (x0, y0), (x1, y1) = position[a], position[b]
        ax.annotate("", (x1 - 0.55, y1), (x0 + 0.55, y0), arrowprops=dict(arrowstyle="->", color="0.4"))
    for name, (label, value, gradient) in nodes.items():
        x, y = position[name]
        ax.text(x, y, label, ha="center", va="center", fontsize=10, zorder=3,
                bbox=dict(boxstyle="round,pad=0.35", facecolor="#eef3fb", edgecolor="0.35"))
        ax.text(x, y + 0.42, f"{value:.4g}", ha="center", va="bottom", fontsize=8, color="0.15")
        if gradient is not None:
            ax.text(x, y - 0.42, f"∂L/∂· = {gradient:.4g}", ha="center", va="top", fontsize=8, color="tab:red")
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.9)
    if title:
        ax.set_title(title)
    return ax.figure
