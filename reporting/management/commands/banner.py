from django.conf import settings
from django.core.management.base import BaseCommand

from reporting.serving import serving


def database_described(db: dict, embedded_data_dir) -> str:
    """The database in use, never its password."""
    if embedded_data_dir:
        return f"embedded PostgreSQL, data in {embedded_data_dir} (make db-stop, db-reset)"
    host = db.get("HOST") or "local socket"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db.get('USER') or ''}@{host}{port}/{db.get('NAME')}"


class Command(BaseCommand):
    help = "Print what `make run` serves: URL, database, read-model strategy, what else must run."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url, **options):
        url = url.rstrip("/")
        served = serving()
        lines = [
            f"  serving     {url}/  (admin {url}/admin/, API {url}/api/, docs {url}/api/docs/)",
            f"  database    {database_described(settings.DATABASES['default'], settings.EMBEDDED_PGDATA)}",
            f"  read model  READ_MODEL_REFRESH={served.strategy}",
        ]
        for alias in getattr(settings, "READ_REPLICAS", []):
            db = settings.DATABASES[alias]
            lines.append(f"  replica     {alias}: {database_described(db, None)} (report reads)")
        lines.extend(f"  {note}" for note in served.notes())
        lines.append(f"  health      {url}/healthz/ready   metrics {url}/metrics")
        rule = "=" * 78
        self.stdout.write("\n".join([rule, *lines, rule]))
