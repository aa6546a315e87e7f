import signal
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reporting import refresh, serving, worker
from reporting.catalog import NAMES
from reporting.rebuild import RebuildFailed, RebuildRunning


class Command(BaseCommand):
    help = (
        "Refresh the reporting materialized views (all by default) and heal stale ones; "
        "--watch runs the asynchronous refresh worker; --rebuild recreates the views from their "
        "SQL and, where the read tables are served (incremental), refills them, online: built "
        "beside the served ones, caught up from the event log, swapped in under a short lock."
    )

    def add_arguments(self, parser):
        parser.add_argument("views", nargs="*", metavar="VIEW", help=f"any of: {', '.join(NAMES)}")
        parser.add_argument(
            "--plain",
            action="store_true",
            help="REFRESH without CONCURRENTLY: faster, but blocks readers of the view meanwhile.",
        )
        parser.add_argument(
            "--watch",
            action="store_true",
            help="run as the worker of READ_MODEL_REFRESH=async: refresh views as events commit",
        )
        parser.add_argument(
            "--debounce", type=float, default=0.05, help="seconds to gather a burst (--watch)"
        )
        parser.add_argument(
            "--poll", type=float, default=5.0, help="seconds between checks without a NOTIFY"
        )
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="recreate the views (and the served read tables) online, readers and commands "
            "going on; an interrupted rebuild changes nothing and can simply be run again",
        )

    def handle(self, *args, views, plain, watch, debounce, poll, rebuild, **options):
        unknown = sorted(set(views) - set(NAMES))
        if unknown:
            raise CommandError(f"Unknown view(s): {', '.join(unknown)}. Known: {', '.join(NAMES)}.")
        if watch:
            return self._watch(debounce, poll)
        if rebuild:
            return self._rebuild(views or None)
        results = refresh.refresh_views(views or None, concurrently=not plain)
        for result in results:
            self._print(result)
        # Where reports are served from the read tables: heal any row that is not its view's.
        for found, _after in serving.serving().tables_repair(views or None):
            self.stdout.write(f"{found.view + ' table':<16} {len(found.keys)} rows repaired")
        failed = [r.view for r in results if r.error]
        if failed:
            raise CommandError(f"Refresh failed for: {', '.join(failed)} (marked stale).")

    def _rebuild(self, names) -> None:
        progress = BarProgress(self.stdout) if sys.stdout.isatty() else LineProgress(self.stdout)
        try:
            results = serving.serving().rebuild(names, progress)
        except (RebuildRunning, RebuildFailed) as error:
            raise CommandError(f"{error}. The served contents are unchanged.") from error
        finally:
            progress.close()
        for r in results:
            self.stdout.write(
                f"{r.report:<16} {r.seconds * 1000:9.1f} ms  {r.rows:>10} rows  "
                f"{r.replayed} events caught up, swap held its locks {r.swap_ms:.1f} ms"
            )

    def _watch(self, debounce: float, poll: float) -> None:
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        self.stdout.write(f"Refresh worker: listening (debounce {debounce}s, poll {poll}s).")
        self.stdout.flush()
        # Each refresh and each pass's lag is a log line (stderr; LOG_FORMAT=json for collectors),
        # not printed here a second time.
        worker.watch(debounce=debounce, poll=poll, should_stop=lambda: bool(stopping))
        self.stdout.write("Refresh worker: stopped.")

    def _print(self, result) -> None:
        if result.error:
            self.stderr.write(f"{result.view:<16} FAILED: {result.error}")
        elif result.refreshed:
            self.stdout.write(
                f"{result.view:<16} {result.duration_ms:9.1f} ms  {result.row_count:>10} rows"
            )
        self.stdout.flush()


class LineProgress:
    """One line per phase of a rebuild (logs, pipes, CI)."""

    def __init__(self, out):
        self.out = out

    def __call__(self, report, phase, **numbers):
        details = " ".join(f"{k}={v}" for k, v in numbers.items())
        self.out.write(f"rebuild {report.name}: {phase} {details}".rstrip())
        self.out.flush()

    def close(self):
        pass


class BarProgress:
    """A bar per report on a terminal: rows filled against the rows expected (an estimate from
    the served contents), with tqdm's rate and time left; then the catch-up and the swap."""

    def __init__(self, out):
        self.out = out
        self.bar = None

    def __call__(self, report, phase, **numbers):
        if phase == "fill":
            self.close()
            self.bar = tqdm(total=numbers.get("expected") or None, desc=report.name, unit=" rows")
        elif self.bar is not None and "rows" in numbers and phase in ("filled", "swapped"):
            self.bar.total = max(self.bar.total or 0, numbers["rows"])
            self.bar.n = numbers["rows"]
            self.bar.set_postfix_str(phase)
        elif self.bar is not None:
            self.bar.set_postfix_str(" ".join([phase, *(f"{k}={v}" for k, v in numbers.items())]))

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
