"""The two working roles, as Django groups: who may issue commands, who may read reports.

The command side grants the clerks' permissions here; another app grants its own permissions to
a role when it loads (`role_grant`: the read side gives the analysts every report's), so this
module never lists another app's permissions.
"""

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

ROLE_PERMISSIONS: dict[str, list[str]] = {CLERKS: list(CLERK_PERMISSIONS), ANALYSTS: []}


def role_grant(role: str, permissions) -> None:
    """Add `permissions` ("app_label.codename") to what `role` grants (at app loading)."""
    granted = ROLE_PERMISSIONS[role]
    granted.extend(p for p in permissions if p not in granted)


def roles_ensure() -> dict[str, Group]:
    """Create or update the role groups with exactly their permissions."""
    groups = {}
    for name, dotted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([_permission(p) for p in dotted])
        groups[name] = group
    return groups


def roles_complete(using: str = "default") -> None:
    """Give the role groups that exist any permission of their role they lack (after migrate: a
    new report's permission reaches the analysts without a hand-written migration)."""
    for group in Group.objects.using(using).filter(name__in=ROLE_PERMISSIONS):
        for dotted in ROLE_PERMISSIONS[group.name]:
            app_label, codename = dotted.split(".")
            found = Permission.objects.using(using).filter(
                content_type__app_label=app_label, codename=codename
            )
            group.permissions.add(*found)  # none yet (a model not migrated): nothing to add


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)
