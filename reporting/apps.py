from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting (read side)"

    def ready(self):
        # The command side's hand-off to the read side: every recorded and committed event of
        # orders.events reaches reporting.projector. orders itself never imports reporting.
        from orders import events, roles
        from reporting import migration, projector
        from reporting.catalog import REPORTS

        events.read_model_subscribe(projector)
        # Analysts read every report (the dashboard needs them all) and the read side's state.
        roles.role_grant(
            roles.ANALYSTS,
            [
                *(report.permission for report in REPORTS),
                "reporting.view_viewstate",
                "reporting.view_tablestate",
            ],
        )
        # After migrate: existing role groups get the permissions of reports added since.
        # (auth's own post_migrate handler, connected earlier, has created them by then.)
        post_migrate.connect(_roles_complete, sender=self, dispatch_uid="reporting.roles")
        # migrate keeps the views in line with the reports' declarations, online; columns the
        # views read can change (reporting/migration.py).
        pre_migrate.connect(migration.before_migrate, sender=self, dispatch_uid="reporting.pre")
        post_migrate.connect(migration.after_migrate, sender=self, dispatch_uid="reporting.post")


def _roles_complete(sender, using="default", **kwargs):
    from orders import roles

    roles.roles_complete(using)
