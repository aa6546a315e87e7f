"""Reading a report needs its report's permission (the view permission of its view's model); the
event log needs the view permission of the event model."""

from rest_framework.permissions import BasePermission


class CanViewReport(BasePermission):
    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        report = getattr(view, "report", None)
        if report is not None:
            return request.user.has_perm(report.permission)
        meta = view.queryset.model._meta
        return request.user.has_perm(f"{meta.app_label}.view_{meta.model_name}")
