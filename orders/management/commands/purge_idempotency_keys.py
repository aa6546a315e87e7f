from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from orders.models import IdempotencyKey


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key results older than --hours (run it from cron)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours", type=float, default=24.0, help="keep keys this recent (default 24)"
        )

    def handle(self, *args, hours, **options):
        if hours < 0:
            raise CommandError("--hours must be >= 0")
        cutoff = timezone.now() - timedelta(hours=hours)
        deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} idempotency key(s) older than {hours:g} h.")
