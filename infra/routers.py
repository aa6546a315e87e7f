"""The database router: the read model's reads go to the database chosen for the request.

infra/replicas.py chooses it (a replica, or the primary) for each report read and keeps it in a
context variable; outside report reads it is unset and every query goes to the primary, as without
replicas. Writes always go to the primary; migrations run on the primary only (a standby is a
read-only copy of it).
"""

from django.db import DEFAULT_DB_ALIAS

from infra.replicas import read_alias

# Apps whose models are the read model (report views, read tables, the freshness ledger).
READ_MODEL_APPS = {"reporting"}


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        alias = read_alias.get()
        if alias and model._meta.app_label in READ_MODEL_APPS:
            return alias
        return None

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return None if db == DEFAULT_DB_ALIAS else False
