"""Reading a report needs the view permission of its report's model (the materialized view)."""

from rest_framework.permissions import BasePermission


class CanViewReport(BasePermission):
    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        report = getattr(view, "report", None)
        meta = report.view._meta if report is not None else view.queryset.model._meta
        return request.user.has_perm(f"{meta.app_label}.view_{meta.model_name}")
