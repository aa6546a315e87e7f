from django.urls import path

from reporting.dashboard.views import dashboard

urlpatterns = [path("", dashboard, name="dashboard")]
