from django.core.management.base import BaseCommand, CommandError

from reporting import refresh


class Command(BaseCommand):
    help = "Refresh the reporting materialized views (all by default) and heal stale ones."

    def add_arguments(self, parser):
        parser.add_argument(
            "views", nargs="*", metavar="VIEW", help=f"any of: {', '.join(refresh.VIEWS)}"
        )
        parser.add_argument(
            "--plain",
            action="store_true",
            help="REFRESH without CONCURRENTLY: faster, but blocks readers of the view meanwhile.",
        )

    def handle(self, *args, views, plain, **options):
        unknown = sorted(set(views) - set(refresh.VIEWS))
        if unknown:
            raise CommandError(
                f"Unknown view(s): {', '.join(unknown)}. Known: {', '.join(refresh.VIEWS)}."
            )
        results = refresh.refresh_views(views or None, concurrently=not plain)
        for result in results:
            if result.error:
                self.stderr.write(f"{result.view:<16} FAILED: {result.error}")
            else:
                self.stdout.write(
                    f"{result.view:<16} {result.duration_ms:9.1f} ms  {result.row_count:>10} rows"
                )
        failed = [r.view for r in results if r.error]
        if failed:
            raise CommandError(f"Refresh failed for: {', '.join(failed)} (marked stale).")
