"""Reading a report needs the view permission of its materialized view model."""

from rest_framework.permissions import BasePermission


class CanViewReport(BasePermission):
    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        meta = view.queryset.model._meta
        return request.user.has_perm(f"{meta.app_label}.view_{meta.model_name}")
