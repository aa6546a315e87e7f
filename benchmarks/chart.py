"""The benchmark chart: create-order latency against data size, one line per read-model strategy
(left), and the same through HTTP beside the read model's bulk maintenance costs (right)."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _series(rows: list[dict], pick) -> list[float] | None:
    """One value per size, or None when an older results file lacks the measurement."""
    try:
        return [pick(r) for r in rows]
    except (KeyError, TypeError):
        return None


def draw(report: dict, path: Path) -> None:
    sizes = sorted(int(s) for s in report["sizes"])
    rows = [report["sizes"][str(s)] for s in sizes]
    # (label, value per row, style): solid = the reader sees the write when the command returns.
    commands = [
        ("sync: command + refresh", lambda r: r["command_with_refresh"]["median_ms"], "-", "C3"),
        (
            "async: until every view shows it",
            lambda r: r["async"]["time_to_visible"]["median_ms"],
            ":",
            "C1",
        ),
        (
            "incremental: command + read tables",
            lambda r: r["command_incremental"]["median_ms"],
            "-",
            "C2",
        ),
        (
            "async: command (commit + NOTIFY)",
            lambda r: r["async"]["command"]["median_ms"],
            "--",
            "C1",
        ),
        (
            "off: command, no read model",
            lambda r: r["command_without_read_model"]["median_ms"],
            "--",
            "C0",
        ),
        ("bare write (SQL floor)", lambda r: r["bare_write"]["median_ms"], "--", "C7"),
    ]
    other = [
        (
            "HTTP create-order, sync",
            lambda r: r["http_command_with_refresh"]["median_ms"],
            "-",
            "C3",
        ),
        (
            "HTTP create-order, incremental",
            lambda r: r["http_command_incremental"]["median_ms"],
            "-",
            "C2",
        ),
        (
            "refresh of all 4 views (concurrently)",
            lambda r: sum(v["concurrently"]["median_ms"] for v in r["refresh"].values()),
            "--",
            "C4",
        ),
        ("rebuild of all read tables", lambda r: r["tables_rebuild"]["seconds"] * 1000, "--", "C5"),
        (
            "verify_read_model (all 4)",
            lambda r: r["verify_read_model"]["seconds"] * 1000,
            ":",
            "C6",
        ),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(13, 6.5), dpi=110, sharey=True)
    for ax, lines, title in [
        (axes[0], commands, "create-order command (service layer), per strategy"),
        (axes[1], other, "through HTTP, and bulk read-model maintenance"),
    ]:
        for label, pick, style, color in lines:
            values = _series(rows, pick)
            if values is not None:
                ax.plot(sizes, values, style, marker="o", color=color, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("orders in the database")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    axes[0].set_ylabel("median (ms, log scale)")
    machine = report["machine"]
    fig.suptitle(
        f"What a create-order command costs — {machine['cpus']} cores, PostgreSQL "
        f"{machine['postgresql'].split()[0]}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":  # redraw from a results file: python -m benchmarks.chart IN.json OUT.png
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
