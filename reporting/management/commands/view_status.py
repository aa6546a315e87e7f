from django.core.management.base import BaseCommand
from django.db import connection

from reporting import ledger
from reporting.catalog import REPORTS
from reporting.models import ViewState


class Command(BaseCommand):
    help = "Show each reporting view: rows, size on disk, last refresh, duration, stale or fresh."

    def handle(self, *args, **options):
        ledger.ensure()
        states = {state.name: state for state in ViewState.objects.all()}
        header = f"{'view':<16} {'rows':>10} {'size':>10} {'last refresh (UTC)':<26} {'duration':>11}  status"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for report in REPORTS:
            name, model = report.name, report.view
            state = states[name]
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))",
                    [model._meta.db_table],
                )
                (size,) = cursor.fetchone()
            rows = "-" if state.row_count is None else str(state.row_count)
            when = (
                state.last_refreshed_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                if state.last_refreshed_at
                else "never"
            )
            took = "-" if state.last_duration_ms is None else f"{state.last_duration_ms:.1f} ms"
            status = state.status + (
                f" ({state.last_error[:60]})" if state.status == "stale" else ""
            )
            self.stdout.write(f"{name:<16} {rows:>10} {size:>10} {when:<26} {took:>11}  {status}")
