"""A soak's report: the trend table (text and Markdown), ``soak.json`` and the plot of each resource over time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

from chaos.soak.samples import RESOURCES, Sample
from chaos.soak.trend import ALLOWANCES, Trend

HEAD = ("process", "resource", "inc", "points", "first", "last", "level", "trend/h", "allowed/h", "noise", "verdict")


def amount(value: float, resource: str) -> str:
    """``value`` as people read it: bytes in KiB/MiB, counts as numbers."""
    if ALLOWANCES[resource].unit == "B":
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if abs(value) >= size:
                return f"{value / size:.1f} {unit}"
        return f"{value:.0f} B"
    return f"{value:.1f}" if value != int(value) else f"{value:.0f}"


def rows(trends: Iterable[Trend]) -> list[tuple[str, ...]]:
    out = []
    for t in trends:
        inc = f"#{t.incarnation}" + (f" of {t.incarnations}" if t.incarnations > 1 else "")
        signed = ("+" if t.per_hour > 0 else "") + amount(t.per_hour, t.resource)
        out.append((t.process, t.resource, inc, str(t.points), amount(t.first, t.resource),
                    amount(t.last, t.resource), amount(t.level, t.resource), signed,
                    amount(t.allowed_per_hour, t.resource), amount(t.noise, t.resource), t.verdict))
    return out


def table(trends: Iterable[Trend], markdown: bool = False) -> str:
    """One row per process and resource; GROWS where it grew beyond its allowance."""
    body = rows(trends)
    if markdown:
        lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
        lines += ["| " + " | ".join(f"**{c}**" if c == "GROWS" else c for c in r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [HEAD, *body]) for i in range(len(HEAD))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*HEAD), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in body)])


def write_judgement(path: Path, scenario: str, duration: float, interval: float, warmup: float,
                    trends: Sequence[Trend], cycles: int, notes: Sequence[str] = (),
                    workload: dict[str, Any] | None = None) -> None:
    judged = any(t.verdict != "too few samples" for t in trends) and not (workload or {}).get("stalled_intervals")
    doc: dict[str, Any] = {"scenario": scenario, "duration": duration, "interval": interval, "warmup": warmup,
                           "cycles": cycles, "judged": judged, "passed": judged and not any(t.grows for t in trends),
                           **(workload or {}),
                           "grows": [f"{t.process} {t.resource}" for t in trends if t.grows], "notes": list(notes),
                           "allowances": {r: vars(a) for r, a in ALLOWANCES.items()},
                           "trends": [t.to_dict() for t in trends]}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def plot(samples: Sequence[Sample], path: Path, title: str = "", warmup: float = 0.0) -> Path:
    """One panel per resource, a line per process (its restarts break the line), the warm-up shaded."""
    from matplotlib.figure import Figure  # lazily: only soaks pay for matplotlib

    present = [r for r in RESOURCES if any(r in s.values for s in samples)]
    cols = 3
    nrows = max(1, -(-len(present) // cols))
    fig = Figure(figsize=(5 * cols, 3.2 * nrows), dpi=90, layout="constrained")
    processes = sorted({s.process for s in samples})
    colours = {p: f"C{i % 10}" for i, p in enumerate(processes)}
    minutes = any(s.t > 600 for s in samples)
    scale, unit = (60.0, "min") if minutes else (1.0, "s")
    for i, resource in enumerate(present):
        ax = fig.add_subplot(nrows, cols, i + 1)
        bytes_ = ALLOWANCES[resource].unit == "B"
        for process in processes:
            mine = sorted((s for s in samples if s.process == process and resource in s.values), key=lambda s: s.t)
            for n, life in enumerate(_lives(mine)):
                ax.plot([s.t / scale for s in life], [s.values[resource] / ((1 << 20) if bytes_ else 1) for s in life],
                        color=colours[process], marker="." if len(life) < 200 else None, linewidth=1,
                        label=process if n == 0 else None)
        if warmup:
            ax.axvspan(0, warmup / scale, color="grey", alpha=0.12, linewidth=0)
        ax.set_title(resource + (" (MiB)" if bytes_ else ""), fontsize=10)
        ax.set_xlabel(f"time since the workload began ({unit})", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title)
    fig.savefig(path)
    return path


def _lives(samples: Sequence[Sample]) -> list[list[Sample]]:
    """A process's samples cut at each restart (a new incarnation), so a line never joins two lives."""
    out: list[list[Sample]] = []
    for s in samples:
        if not out or out[-1][-1].incarnation != s.incarnation:
            out.append([])
        out[-1].append(s)
    return out
