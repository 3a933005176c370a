"""The pipeline's DAG as a standalone SVG: a layered layout in pure Python (no Graphviz).

Steps are boxes labelled as the user wrote them, one row per depth (a step sits one row below its
deepest parent), ordered within a row to limit crossings (barycentre sweeps); edges are curves
labelled with the values they carry. With ``status`` (step name -> phase, Argo's or a local run's)
each box is coloured by its phase and a legend is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from ..spec import PipelineSpec
from .graph import Dag, dag_of, edge_label

BOX_H = 38
ROW_GAP = 84
COL_GAP = 36
MARGIN = 24
CHAR_W = 7.4  # average width of a 13px sans-serif character
LABEL_CHAR_W = 6.3  # of an 11px one
FILL = {"Succeeded": ("#d9f2dd", "#2e7d32"), "Failed": ("#fbdada", "#c62828"),
        "Error": ("#fbdada", "#c62828"), "Running": ("#fff1c6", "#b7791f"),
        "Pending": ("#eef0f3", "#6b7280"), "Skipped": ("#f4f4f5", "#9ca3af"),
        "Omitted": ("#f4f4f5", "#9ca3af"), "Cancelled": ("#f4f4f5", "#9ca3af")}
PLAIN = ("#eef4fb", "#3b6ea5")


@dataclass
class _Box:
    name: str
    row: int
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0


def normal_phase(phase: str) -> str:
    """``succeeded`` (a local run) or ``Succeeded`` (Argo) -> ``Succeeded``."""
    return phase[:1].upper() + phase[1:].lower() if phase else "Pending"


def layout(dag: Dag) -> tuple[dict[str, _Box], float, float]:
    """Boxes placed in rows (by depth) and ordered by barycentre sweeps; the drawing's size."""
    row: dict[str, int] = {}
    pending = list(dag.steps)
    while pending:  # parents first (a compiled Workflow lists tasks in pipeline order, but be sure)
        ready = [n for n in pending if all(d in row or d not in dag.parents for d in dag.parents.get(n, []))]
        for n in ready or pending[:1]:
            row[n] = 1 + max((row[d] for d in dag.parents.get(n, []) if d in row), default=-1)
            pending.remove(n)
    rows: list[list[str]] = [[] for _ in range(max(row.values(), default=-1) + 1)]
    for n in dag.steps:
        rows[row[n]].append(n)
    parents = {n: [d for d in dag.parents.get(n, []) if d in row] for n in dag.steps}
    children: dict[str, list[str]] = {n: [] for n in dag.steps}
    for name, deps in parents.items():
        for d in deps:
            children[d].append(name)
    for sweep in range(4):  # down, up, down, up: order each row by its neighbours' mean position
        indices = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        for i in indices:
            neighbour_row = rows[i - 1] if sweep % 2 == 0 else rows[i + 1]
            position = {n: k for k, n in enumerate(neighbour_row)}
            links = parents if sweep % 2 == 0 else children

            def centre(name: str, links: dict[str, list[str]] = links,
                       position: dict[str, int] = position, current: list[str] = rows[i]) -> float:
                linked = [position[p] for p in links[name] if p in position]
                return sum(linked) / len(linked) if linked else float(current.index(name))

            rows[i] = sorted(rows[i], key=centre)
    boxes = {n: _Box(n, row[n], w=max(96.0, len(n + dag.marks.get(n, "")) * CHAR_W + 28)) for n in row}
    widths = [sum(boxes[n].w for n in r) + COL_GAP * (len(r) - 1) for r in rows]
    total_w = max(widths, default=0.0) + 2 * MARGIN
    for i, r in enumerate(rows):
        x = (total_w - widths[i]) / 2
        for n in r:
            boxes[n].x, boxes[n].y = x, MARGIN + 28 + i * (BOX_H + ROW_GAP)
            x += boxes[n].w + COL_GAP
    total_h = MARGIN + 28 + len(rows) * BOX_H + max(0, len(rows) - 1) * ROW_GAP + MARGIN
    return boxes, total_w, total_h


def render_svg(spec: PipelineSpec | Dag, status: dict[str, str] | None = None) -> str:
    """``spec``'s DAG as an SVG document; boxes coloured by ``status`` (step name -> phase) if given."""
    dag = dag_of(spec)
    boxes, width, height = layout(dag)
    legend_h = 30 if status else 0
    width = max(width, MARGIN * 2 + len(dag.name) * 9.0)
    parts: list[str] = []
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height + legend_h:.0f}" '
             f'viewBox="0 0 {width:.0f} {height + legend_h:.0f}" font-family="Helvetica, Arial, sans-serif">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#64748b"/>'
             '</marker></defs>',
             '<rect width="100%" height="100%" fill="#ffffff"/>',
             f'<text x="{MARGIN}" y="{MARGIN + 6}" font-size="15" font-weight="bold" fill="#1f2937">'
             f'{escape(dag.name)}</text>']
    labels = []
    long_edges = 0
    outgoing = {n: sum(1 for (a, _) in dag.edges if a == n) for n in boxes}
    incoming = {n: sum(1 for (_, b) in dag.edges if b == n) for n in boxes}
    for (a, b) in dag.edges:
        if a not in boxes or b not in boxes:
            continue
        text = edge_label(dag, (a, b))  # the values, and the condition of a conditional step
        src, dst = boxes[a], boxes[b]
        x1, y1 = src.x + src.w / 2, src.y + BOX_H
        x2, y2 = dst.x + dst.w / 2, dst.y
        between = [o for o in boxes.values() if src.row < o.row < dst.row]
        if between:  # skips rows: go round the boxes in between, on the right
            side = max(o.x + o.w for o in between) + 26 + 16 * long_edges
            long_edges += 1
            turn = ROW_GAP / 2
            path = (f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + turn:.1f} {side:.1f},{y1 + 4:.1f} "
                    f"{side:.1f},{y1 + turn + 8:.1f} L{side:.1f},{y2 - turn - 8:.1f} "
                    f"C{side:.1f},{y2 - 4:.1f} {x2:.1f},{y2 - turn:.1f} {x2:.1f},{y2 - 1:.1f}")
            w = len(text) * LABEL_CHAR_W + 10
            mx, my = side + 6 + w / 2, (y1 + y2) / 2  # beside the line, clear of the boxes
        else:
            bend = max(30.0, (y2 - y1) / 2)
            path = (f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f} "
                    f"{x2:.1f},{y2 - 1:.1f}")
            # a label sits where its edge is alone: near the child after a fan-out, near the
            # parent before a fan-in (the cubic's point at t; its x moves by 3t^2 - 2t^3)
            fan_out, fan_in = outgoing[a] > 1, incoming[b] > 1
            t = 0.5 if fan_out == fan_in else 0.7 if fan_out else 0.3
            mx = x1 + (x2 - x1) * (3 * t * t - 2 * t ** 3)
            my = (1 - t) ** 3 * y1 + 3 * (1 - t) ** 2 * t * (y1 + bend) + 3 * (1 - t) * t * t * (y2 - bend) \
                + t ** 3 * y2
        parts.append(f'<path d="{path}" fill="none" stroke="#64748b" stroke-width="1.4" '
                     'marker-end="url(#arrow)"/>')
        if text:
            w = len(text) * LABEL_CHAR_W + 10
            width = max(width, mx + w / 2 + MARGIN)
            labels.append(f'<rect x="{mx - w / 2:.1f}" y="{my - 9:.1f}" width="{w:.1f}" height="17" rx="3" '
                          'fill="#ffffff" fill-opacity="0.92" stroke="#e2e8f0"/>'
                          f'<text x="{mx:.1f}" y="{my + 3.5:.1f}" font-size="11" text-anchor="middle" '
                          f'fill="#475569">{escape(text)}</text>')
    parts += labels
    for box in boxes.values():
        phase = normal_phase(status.get(box.name, "Pending")) if status is not None else None
        fill, stroke = FILL.get(phase or "", PLAIN) if phase else PLAIN
        title = f"{box.name}: {phase}" if phase else box.name
        parts.append(f'<g><title>{escape(title)}</title><rect x="{box.x:.1f}" y="{box.y:.1f}" '
                     f'width="{box.w:.1f}" height="{BOX_H}" rx="7" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="1.6"/><text x="{box.x + box.w / 2:.1f}" '
                     f'y="{box.y + BOX_H / 2 + 4.5:.1f}" '
                     f'font-size="13" text-anchor="middle" fill="#111827">'
                     f'{escape(box.name + dag.marks.get(box.name, ""))}</text></g>')
    if status is not None:
        shown = sorted({normal_phase(status.get(n, "Pending")) for n in boxes})
        x = float(MARGIN)
        for phase in shown:
            fill, stroke = FILL.get(phase, PLAIN)
            parts.append(f'<rect x="{x:.1f}" y="{height:.1f}" width="14" height="14" rx="3" fill="{fill}" '
                         f'stroke="{stroke}"/><text x="{x + 20:.1f}" y="{height + 11:.1f}" font-size="12" '
                         f'fill="#374151">{escape(phase)}</text>')
            x += 34 + len(phase) * 7
    parts.append("</svg>")
    full_h = height + legend_h
    size = f'width="{width:.0f}" height="{full_h:.0f}" viewBox="0 0 {width:.0f} {full_h:.0f}"'
    head[0] = f'<svg xmlns="http://www.w3.org/2000/svg" {size} font-family="Helvetica, Arial, sans-serif">'
    return "\n".join(head + parts) + "\n"


def svg_to_png(svg: str) -> bytes:
    """The SVG as PNG through cairosvg; a ConfigError saying how to get it when it is missing."""
    from ..errors import ConfigError

    try:
        import cairosvg
    except (ImportError, OSError):  # OSError: the cairo library itself is missing
        raise ConfigError("PNG output needs cairosvg (and the cairo library)", where="--format png",
                          hint="pip install 'kale-argo[png]' (apt-get install libcairo2 if cairo is "
                               "missing), or use --format svg and convert it") from None
    return bytes(cairosvg.svg2png(bytestring=svg.encode()))
