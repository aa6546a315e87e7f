import signal

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from reporting import ledger, refresh, serving, worker
from reporting.catalog import NAMES


class Command(BaseCommand):
    help = (
        "Refresh the reporting materialized views (all by default) and heal stale ones; "
        "--watch runs the asynchronous refresh worker; --rebuild recreates every view and "
        "refills every read table (incremental strategy) from its definition."
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
            help="drop and recreate every view from its SQL, fill it, and refill the read tables",
        )

    def handle(self, *args, views, plain, watch, debounce, poll, rebuild, **options):
        unknown = sorted(set(views) - set(NAMES))
        if unknown:
            raise CommandError(f"Unknown view(s): {', '.join(unknown)}. Known: {', '.join(NAMES)}.")
        if watch:
            return self._watch(debounce, poll)
        if rebuild:
            call_command("sync_pgviews", force=True, verbosity=0)
            ledger.reset()
            plain = True  # the views were just recreated: nobody can be reading them yet
        results = refresh.refresh_views(views or None, concurrently=not plain)
        for result in results:
            self._print(result)
        if rebuild:
            for name, rows, duration_ms in serving.tables_rebuild():
                self.stdout.write(f"{name + ' table':<16} {duration_ms:9.1f} ms  {rows:>10} rows")
        else:
            # Where reports are served from the read tables: heal any row that is not its view's.
            for found, _after in serving.serving().tables_repair(views or None):
                self.stdout.write(f"{found.view + ' table':<16} {len(found.keys)} rows repaired")
        failed = [r.view for r in results if r.error]
        if failed:
            raise CommandError(f"Refresh failed for: {', '.join(failed)} (marked stale).")

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
