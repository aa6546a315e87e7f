from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting (read side)"

    def ready(self):
        # The command side's hand-off to the read side: every recorded and committed event of
        # orders.events reaches reporting.projector. orders itself never imports reporting.
        from orders import events
        from reporting import projector

        events.read_model_subscribe(projector)
