"""Each command needs the Django model permission its view names for the HTTP method."""

from rest_framework.permissions import BasePermission


class CommandPermission(BasePermission):
    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        required = view.required_permissions.get(request.method)
        return required is None or request.user.has_perms(required)
