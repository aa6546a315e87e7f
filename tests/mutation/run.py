"""Mutation testing of the modules that carry the guarantees (`make mutate`; not part of `make test`).

cosmic-ray mutates one module at a time and runs the tests that cover it against each mutant, in a
copy of the working tree (`.mutation/tree/`: the worktree itself is never mutated); a mutant the tests do not fail "survives". The run uses its own embedded PostgreSQL
(`.pgdata-mutate/`), or DATABASE_URL if set, and writes docs/mutation-report.md: the score per
module, the time it took, and every survivor, each either explained as equivalent (EQUIVALENT
below: no test can tell it from the original) or marked as a hole to close with a test.

    python -m tests.mutation.run                      # every module
    python -m tests.mutation.run reporting/refresh.py # some of them (the report keeps the others' rows)
    python -m tests.mutation.run --report             # rewrite the report from the last results
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation"
TREE = WORK / "tree"
REPORT = ROOT / "docs" / "mutation-report.md"
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--reuse-db"]

# module -> the tests that cover it (run against every mutant of that module)
MODULES: dict[str, list[str]] = {
    "reporting/api/permissions.py": ["tests/test_security.py", "-k", "matrix or permission"],
    "orders/api/permissions.py": ["tests/test_security.py", "-k", "matrix or permission"],
    "orders/api/preconditions.py": ["tests/orders/test_api.py", "-k", "if_match"],
    "reporting/refresh.py": [
        "tests/reporting/test_refresh_protocol.py",
        "tests/reporting/test_refresh_race.py",
        "tests/reporting/test_stale_and_heal.py",
        "tests/reporting/test_read_your_writes.py",
    ],
    "reporting/ledger.py": [
        "tests/reporting/test_refresh_protocol.py",
        "tests/reporting/test_stale_and_heal.py",
        "tests/reporting/test_read_your_writes.py",
        "tests/reporting/test_api.py",
        "tests/reporting/test_async.py",
        "-k",
        "not worker",  # the worker subprocess tests take minutes per mutant
    ],
    "orders/services.py": ["tests/orders/test_services.py", "tests/orders/test_api.py"],
    # The incremental maintenance: the kit every report's maintenance uses, and the report whose
    # maintenance locks and recomputes (a customer's first and last order after a cancellation).
    "reporting/maintenance.py": [
        "tests/reporting/test_incremental.py",
        "tests/reporting/test_incremental_examples.py",
        "tests/reporting/test_lock_order.py",
        "tests/reporting/test_online_rebuild.py",
    ],
    "reporting/reports/customer_stats.py": [
        "tests/reporting/test_incremental.py",
        "tests/reporting/test_incremental_examples.py",
        "tests/reporting/test_incremental_races.py",
    ],
    "reporting/verify.py": [
        "tests/reporting/test_incremental.py",
        "tests/reporting/test_row_counts.py",
        "tests/reporting/test_verify_and_etag_holes.py",
        "tests/reporting/test_incremental_races.py",
    ],
    "reporting/api/export.py": [
        "tests/reporting/test_export.py",
        "tests/reporting/test_export_formulas.py",
    ],
    "reporting/api/health.py": [
        "tests/reporting/test_health.py",
        "tests/reporting/test_health_and_metrics_holes.py",
    ],
    "reporting/api/metrics.py": [
        "tests/test_metrics.py",
        "tests/reporting/test_health_and_metrics_holes.py",
    ],
    "infra/auth.py": ["tests/test_security.py", "-k", "token or throttl or auth"],
    "infra/replicas.py": ["tests/test_replicas.py"],  # a standby pair: minutes per mutant
}

# Survivors no test can kill: (module, line, operator) -> why the mutant behaves like the original.
EQUIVALENT: dict[tuple[str, int, str], str] = {
    ("orders/api/preconditions.py", 13, "core/ReplaceComparisonOperator_Eq_Is"): (
        '`header.strip() is "*"`: CPython keeps one shared object per one-character string, so '
        'whatever `strip()` returns for a "*" header is that object and `is` agrees with `==`.'
    ),
    **{
        ("reporting/refresh.py", 30, "core/NumberReplacer"): (
            "the advisory lock's namespace is an arbitrary constant: every refresher (and the race "
            "test's session) reads it from this module, so any value serializes them the same way"
        ),
        ("reporting/refresh.py", 34, "core/ReplaceTrueWithFalse"): (
            "nothing assigns to a RefreshResult or hashes one: frozen or not, it behaves the same"
        ),
        ("reporting/refresh.py", 71, "core/ReplaceBinaryOperator_Mul_Div"): (
            "`*` -> `/` in the signature: every caller passes the view names positionally and "
            "`concurrently` by keyword, which both signatures accept"
        ),
        ("reporting/refresh.py", 100, "core/ReplaceBinaryOperator_Mul_Div"): (
            "`*` -> `/` in the signature: every caller passes the name positionally and the options "
            "by keyword, which both signatures accept"
        ),
        ("reporting/refresh.py", 116, "core/ReplaceComparisonOperator_Eq_LtE"): (
            "pending_events is a count(*): never negative, so `<= 0` and `== 0` agree"
        ),
        ("reporting/refresh.py", 124, "core/NumberReplacer"): (
            "a duration scaled by 999/1000 or 1001/1000 (0.1%): no test can measure a REFRESH's own "
            "time that precisely from outside it (the test bounds it by the call's time)"
        ),
        ("reporting/refresh.py", 124, "core/ReplaceBinaryOperator_Sub_Mod"): (
            "`now % started` equals `now - started` while less than `started` seconds pass; "
            "perf_counter counts from boot, far longer than any refresh"
        ),
    },
    ("orders/services.py", 105, "core/ReplaceComparisonOperator_Gt_NotEq"): (
        "a product id taken from the list occurs in it at least once: `count != 1` is `count > 1`"
    ),
    ("orders/services.py", 192, "core/ReplaceComparisonOperator_Eq_LtE"): (
        "an order always has at least one line (a database trigger enforces it): `<= 1` is `== 1`"
    ),
    ("orders/services.py", 325, "core/ReplaceBinaryOperator_Mul_Div"): (
        "`*` -> `/` in the signature: every caller passes field and prefix by keyword"
    ),
    ("orders/services.py", 333, "core/ReplaceBinaryOperator_Mul_Div"): (
        "`*` -> `/` in the signature: every caller passes field and prefix by keyword"
    ),
}

# Survivors of the last recorded run killed since by a new test (each checked by applying the
# mutant by hand and seeing the test fail); the next run of the module counts them as killed.
_ATOMIC = "tests/orders/test_services.py::test_a_command_that_fails_after_writing_leaves_nothing"
KILLED_SINCE: dict[tuple[str, int, str], str] = {
    **{
        ("orders/services.py", line, "core/RemoveDecorator"): _ATOMIC
        for line in (33, 45, 59, 76, 95, 139, 163, 187, 274)
    },
    ("orders/services.py", 108, "core/NumberReplacer"): (
        "tests/orders/test_services.py::test_order_input_errors_name_the_line_and_the_first_duplicate"
    ),
    ("orders/services.py", 111, "core/NumberReplacer"): (
        "tests/orders/test_services.py::test_order_input_errors_name_the_line_and_the_first_duplicate"
    ),
    ("orders/services.py", 299, "core/ReplaceComparisonOperator_NotEq_Lt"): (
        "tests/orders/test_services.py::test_lines_change_only_while_pending"
    ),
    ("orders/services.py", 310, "core/ReplaceComparisonOperator_NotEq_IsNot"): (
        "tests/orders/test_services.py::test_if_match_works_past_small_integers"
    ),
    ("orders/services.py", 368, "core/ExceptionReplacer"): (
        "tests/orders/test_services.py::test_a_unique_race_lost_to_a_concurrent_command_is_a_field_error"
    ),
    ("orders/services.py", 335, "core/ReplaceComparisonOperator_LtE_Lt"): (
        "tests/orders/test_services.py::test_the_largest_quantity_is_accepted_and_one_more_is_not"
    ),
}


def database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    sys.path.insert(0, str(ROOT))
    from infra.database import embedded_postgres_url

    # This process keeps the server up for the whole run (it stops when its last user exits).
    return embedded_postgres_url(ROOT / ".pgdata-mutate")


def slug(module: str) -> str:
    return module.replace("/", ".").removesuffix(".py")


def config_write(module: str, tests: list[str]) -> Path:
    command = " ".join([*PYTEST, *(json.dumps(t) if " " in t else t for t in tests)])
    path = WORK / f"{slug(module)}.toml"
    path.write_text(
        f"""[cosmic-ray]
module-path = "{module}"
timeout = 300.0
excluded-modules = []
test-command = {json.dumps(command)}

[cosmic-ray.distributor]
name = "local"
"""
    )
    return path


def tree_copy() -> None:
    """The working tree as it is now (tracked and untracked files, uncommitted edits included)."""
    shutil.rmtree(TREE, ignore_errors=True)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (TREE / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, TREE / name)


def run_module(module: str, tests: list[str], env: dict) -> dict:
    config, session = config_write(module, tests), WORK / f"{slug(module)}.sqlite"
    started = time.monotonic()
    baseline = subprocess.run([*PYTEST, *tests], cwd=TREE, env=env, capture_output=True, text=True)
    if baseline.returncode != 0:
        raise SystemExit(f"{module}: its tests fail without a mutant:\n{baseline.stdout[-3000:]}")
    cosmic_ray = str(Path(sys.executable).parent / "cosmic-ray")
    subprocess.run([cosmic_ray, "init", str(config), str(session), "--force"], cwd=TREE, check=True)
    subprocess.run([cosmic_ray, "exec", str(config), str(session)], cwd=TREE, env=env, check=True)
    return {"module": module, "seconds": time.monotonic() - started, **results_read(session)}


def results_read(session: Path) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    killed, survivors, incompetent = 0, [], 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.test_outcome == TestOutcome.SURVIVED:
                spec = item.mutations[0]
                survivors.append(
                    {
                        "line": spec.start_pos[0],
                        "operator": spec.operator_name,
                        "diff": (result.diff or "").strip(),
                    }
                )
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                incompetent += 1
            else:
                killed += 1
        pending = db.num_work_items - db.num_results
    survivors.sort(key=lambda s: (s["line"], s["operator"]))
    return {
        "killed": killed,
        "survivors": survivors,
        "incompetent": incompetent,
        "pending": pending,
    }


def report_write(rows: list[dict]) -> None:
    lines = [
        "# Mutation report",
        "",
        "Written by `make mutate` (`python -m tests.mutation.run`, cosmic-ray; see `tests/mutation/run.py` for",
        "which tests run against each module). Score = killed / (killed + survived); incompetent",
        "mutants (the code no longer imports) are not counted. Equivalent survivors are explained",
        "in `tests/mutation/run.py` (EQUIVALENT): no test can tell them from the original.",
        "",
        "| module | mutants | killed | survived (equivalent) | score | run time |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        since = sum(1 for s in row["survivors"] if killed_since(row["module"], s))
        survived = len(row["survivors"]) - since
        equivalent = sum(1 for s in row["survivors"] if reason(row["module"], s))
        killed = row["killed"] + since
        total = killed + survived
        score = f"{100 * killed / total:.1f}%" if total else "n/a"
        note = f" ({since} since, by new tests)" if since else ""
        lines.append(
            f"| `{row['module']}` | {total + row['incompetent']} | {killed}{note} "
            f"| {survived} ({equivalent}) | {score} | {row['seconds'] / 60:.1f} min |"
        )
    for row in rows:
        lines += ["", f"## `{row['module']}`", ""]
        if not row["survivors"]:
            lines.append("No survivors.")
        for s in row["survivors"]:
            why, test = reason(row["module"], s), killed_since(row["module"], s)
            if test:
                verdict = f"killed since this run by `{test}`"
            elif why:
                verdict = f"equivalent: {why}"
            else:
                verdict = "**not killed: needs a test**"
            lines += [f"- line {s['line']}, {s['operator']}: {verdict}", "", "```diff"]
            lines += [d for d in s["diff"].splitlines() if d[:1] in "+-" and d[:3] not in "---+++"]
            lines += ["```", ""]
    REPORT.write_text("\n".join(lines).rstrip() + "\n")


def reason(module: str, survivor: dict) -> str | None:
    return EQUIVALENT.get((module, survivor["line"], survivor["operator"]))


def killed_since(module: str, survivor: dict) -> str | None:
    return KILLED_SINCE.get((module, survivor["line"], survivor["operator"]))


def main(argv: list[str]) -> None:
    if argv == ["--report"]:
        rows = json.loads((WORK / "results.json").read_text())
        report_write([rows[m] for m in MODULES if m in rows])
        return
    unknown = set(argv) - set(MODULES)
    if unknown:
        raise SystemExit(f"unknown module(s) {sorted(unknown)}; known: {sorted(MODULES)}")
    WORK.mkdir(exist_ok=True)
    tree_copy()
    env = {**os.environ, "DATABASE_URL": database_url()}
    results_file = WORK / "results.json"
    rows = json.loads(results_file.read_text()) if results_file.exists() else {}
    for module in argv or list(MODULES):
        print(f"== {module}", flush=True)
        rows[module] = run_module(module, MODULES[module], env)
        results_file.write_text(json.dumps(rows, indent=1))
        report_write([rows[m] for m in MODULES if m in rows])
    print(f"report: {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
