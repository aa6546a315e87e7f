from django.urls import path, register_converter

from orders.api import views
from orders.services import TRANSITIONS


class IdConverter:
    """Database ids: up to 18 digits, so an absurd id is a 404, never a database range error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("customers/", views.CustomerCreateApi.as_view(), name="customer-create"),
    path("customers/<id:customer_id>/", views.CustomerUpdateApi.as_view(), name="customer-update"),
    path("products/", views.ProductCreateApi.as_view(), name="product-create"),
    path("products/<id:product_id>/", views.ProductUpdateApi.as_view(), name="product-update"),
    path("orders/", views.OrderCreateApi.as_view(), name="order-create"),
    path("orders/<id:order_id>/lines/", views.OrderLineAddApi.as_view(), name="order-line-add"),
    path(
        "orders/<id:order_id>/lines/<id:line_id>/",
        views.OrderLineApi.as_view(),
        name="order-line",
    ),
    *[
        path(
            f"orders/<id:order_id>/{command}/",
            views.OrderTransitionApi.as_view(transition=transition),
            name=f"order-{command}",
        )
        for command, transition in TRANSITIONS.items()
    ],
]
