from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders (command side)"

    def ready(self):
        # Throttles count in the shared cache; `migrate` creates its table (infra/cache.py).
        from infra.cache import cache_table_create

        post_migrate.connect(cache_table_create, sender=self, dispatch_uid="infra.cache.table")
