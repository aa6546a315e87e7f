from django.core.management.base import BaseCommand, CommandError

from reporting import serving, verify
from reporting.catalog import NAMES, REPORTS


class Command(BaseCommand):
    help = (
        "Diff each report's read table (incremental strategy) against its view's definition, "
        "and its recorded row count against COUNT(*), evaluated in one snapshot; print the "
        "differing keys; exit non-zero when any differ. --repair rewrites exactly those rows "
        "(and the row count when it is wrong); more than a thousand rows: the table is rebuilt "
        "online."
    )

    def add_arguments(self, parser):
        parser.add_argument("views", nargs="*", metavar="VIEW", help=f"any of: {', '.join(NAMES)}")
        parser.add_argument(
            "--repair", action="store_true", help="rewrite the differing rows from the definition"
        )

    def handle(self, *args, views, repair, **options):
        unknown = sorted(set(views) - set(NAMES))
        if unknown:
            raise CommandError(f"Unknown view(s): {', '.join(unknown)}. Known: {', '.join(NAMES)}.")
        differing = []
        for report in REPORTS:
            if views and report.name not in views:
                continue
            result = verify.table_verify(report)
            if result.ok:
                self.stdout.write(f"{report.name:<16} ok ({result.duration_ms:.0f} ms)")
                continue
            if result.keys:
                keys = ", ".join(str(key) for key in result.keys[:50])
                more = f" (+{len(result.keys) - 50} more)" if len(result.keys) > 50 else ""
                self.stdout.write(f"{report.name:<16} {len(result.keys)} differing: {keys}{more}")
            if not result.count_ok:
                self.stdout.write(
                    f"{report.name:<16} row count {result.rows_recorded} recorded, "
                    f"{result.rows} rows"
                )
            if repair:
                after = serving.table_heal(report, result)
                state = "repaired" if after.ok else f"still {len(after.keys)} differing"
                self.stdout.write(f"{report.name:<16} {state}")
                if not after.ok:
                    differing.append(report.name)
            else:
                differing.append(report.name)
        if differing:
            raise CommandError(f"Read tables differ from their views: {', '.join(differing)}.")
