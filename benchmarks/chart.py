"""The benchmark chart: command latency and refresh time against data size, bare write alongside."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def draw(report: dict, path: Path) -> None:
    sizes = sorted(int(s) for s in report["sizes"])
    rows = [report["sizes"][str(s)] for s in sizes]
    series = {
        "command + synchronous refresh": [r["command_with_refresh"]["median_ms"] for r in rows],
        "same via HTTP": [r["http_command_with_refresh"]["median_ms"] for r in rows],
        "refresh of all 4 views (concurrently)": [
            sum(v["concurrently"]["median_ms"] for v in r["refresh"].values()) for r in rows
        ],
        "async: until every view shows it": [
            r["async"]["time_to_visible"]["median_ms"] for r in rows
        ],
        "async: command (commit + NOTIFY)": [r["async"]["command"]["median_ms"] for r in rows],
        "command, read model off": [r["command_without_read_model"]["median_ms"] for r in rows],
        "bare write (SQL)": [r["bare_write"]["median_ms"] for r in rows],
    }
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for label, values in series.items():
        ax.plot(sizes, values, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("orders in the database")
    ax.set_ylabel("median latency (ms, log scale)")
    machine = report["machine"]
    ax.set_title(
        f"What a create-order command costs — {machine['cpus']} cores, PostgreSQL "
        f"{machine['postgresql'].split()[0]}"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":  # redraw from a results file: python -m benchmarks.chart IN.json OUT.png
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
