from django.db import migrations

VIEWS = ["order_summary", "customer_stats", "product_sales", "daily_revenue"]


def create_rows(apps, schema_editor):
    ViewState = apps.get_model("reporting", "ViewState")
    for name in VIEWS:
        ViewState.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("reporting", "0001_initial")]

    operations = [migrations.RunPython(create_rows, migrations.RunPython.noop)]
