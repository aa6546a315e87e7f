"""The two working roles, as Django groups: who may issue commands, who may read reports."""

from django.contrib.auth.models import Group, Permission

CLERKS = "Order clerks"
ANALYSTS = "Analysts"

CLERK_PERMISSIONS = [
    "orders.add_customer",
    "orders.change_customer",
    "orders.view_customer",
    "orders.add_product",
    "orders.change_product",
    "orders.view_product",
    "orders.add_order",
    "orders.change_order",
    "orders.view_order",
    "orders.view_domainevent",
]
ANALYST_PERMISSIONS = [
    "reporting.view_ordersummary",
    "reporting.view_customerstats",
    "reporting.view_productsales",
    "reporting.view_dailyrevenue",
    "reporting.view_ordersbystatus",
    "reporting.view_viewstate",
]


def roles_ensure() -> dict[str, Group]:
    """Create or update the role groups with exactly their permissions."""
    groups = {}
    for name, codenames in ((CLERKS, CLERK_PERMISSIONS), (ANALYSTS, ANALYST_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([_permission(codename) for codename in codenames])
        groups[name] = group
    return groups


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)
