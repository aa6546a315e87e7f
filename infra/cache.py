"""The cache every process shares: DRF's throttle histories and the failed-token lockout.

Throttles count in Django's cache. Django's default cache is local memory, one per process: under
gunicorn every limit was multiplied by the number of workers and started over when a worker
restarted. By default the cache is Django's database cache, a table (`django_cache`) in the
project's own PostgreSQL, so no other service is needed; `migrate` creates the table (a
post_migrate handler, `cache_table_create`). An operator with Redis sets `CACHE_URL=redis://…`
(Django's Redis backend; the `redis` package: `pip install -e '.[redis]'`).
"""

import importlib.util
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

CACHE_TABLE = "django_cache"
# The database cache deletes expired entries only once it holds more than this many, and then a
# third of the live ones (by key) if that is not enough: room for every client of a minute's
# window (a key per client address and per signed-in user), at a COUNT(*) of a small table per write.
MAX_ENTRIES = 10_000
REDIS_SCHEMES = {"redis", "rediss", "unix"}


def cache_config(url: str | None, *, redis_installed: bool | None = None) -> dict:
    """Django's CACHES: the database cache when `url` is empty, Redis for a redis:// URL."""
    if not url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": CACHE_TABLE,
                "OPTIONS": {"MAX_ENTRIES": MAX_ENTRIES},
            }
        }
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        raise ImproperlyConfigured(
            "CACHE_URL must be a redis://, rediss:// or unix:// URL of a Redis server; unset, "
            "the cache is a table in the project's PostgreSQL."
        )
    if redis_installed is None:
        redis_installed = importlib.util.find_spec("redis") is not None
    if not redis_installed:
        raise ImproperlyConfigured(
            "CACHE_URL names a Redis server, but the redis package is not installed "
            "(pip install -e '.[redis]')."
        )
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def cache_table_create(sender, using, verbosity=1, **kwargs):
    """post_migrate: `migrate` creates the database cache's table. createcachetable does nothing
    when the table exists, when the cache is not the database's, or on a database the router
    keeps migrations off (a replica)."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=max(0, verbosity - 1))
