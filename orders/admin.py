"""Admin for the write model. Every change goes through orders.services (logged, read side refreshed)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import DecimalField, F, Sum
from django.http import HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect

from orders import services
from orders.exceptions import DomainError
from orders.models import Customer, DomainEvent, Order, OrderLine, OrderStatus, Product
from orders.services import TRANSITIONS, Transition

# The site is named after the product.
admin.site.site_header = "CQRS orders"
admin.site.site_title = "CQRS orders"
admin.site.index_title = "Orders, customers, products and reports"


def error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


class ReadOnlyAdminMixin:
    """For a ModelAdmin whose rows are viewed, never added, changed or deleted in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CommandAdmin(admin.ModelAdmin):
    """Refused commands become an error message on the same page, never a 500 or a partial save."""

    def has_delete_permission(self, request, obj=None):
        return False  # there is no delete command: orders are cancelled, products deactivated

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, DomainError) as error:
            # The admin's own transaction was rolled back: nothing of this save is kept.
            self.message_user(request, f"Not saved: {error_text(error)}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Customer)
class CustomerAdmin(CommandAdmin):
    list_display = ["id", "name", "email", "created_at"]
    search_fields = ["name", "email"]

    def save_model(self, request, obj, form, change):
        if change:
            changed = {f: form.cleaned_data[f] for f in form.changed_data if f in ("name", "email")}
            if changed:
                services.customer_update(customer_id=obj.pk, **changed)
        else:
            obj.pk = services.customer_create(name=obj.name, email=obj.email).pk


@admin.register(Product)
class ProductAdmin(CommandAdmin):
    list_display = ["id", "sku", "name", "unit_price", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["sku", "name"]

    def get_readonly_fields(self, request, obj=None):
        return ["sku"] if obj else []

    def get_search_results(self, request, queryset, search_term):
        """An order line's product autocomplete offers only products that can be ordered."""
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == OrderLine._meta.model_name:
            queryset = queryset.filter(is_active=True)
        return queryset, distinct

    def save_model(self, request, obj, form, change):
        if change:
            fields = ("name", "unit_price", "is_active")
            changed = {f: form.cleaned_data[f] for f in form.changed_data if f in fields}
            if changed:
                services.product_update(product_id=obj.pk, **changed)
        else:
            product = services.product_create(
                sku=obj.sku, name=obj.name, unit_price=obj.unit_price, is_active=obj.is_active
            )
            obj.pk = product.pk


class OrderLineForm(forms.ModelForm):
    class Meta:
        model = OrderLine
        fields = ["product", "quantity"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "product" not in self.fields:
            return
        if self.instance.pk:
            # A written line's product is fixed: change its quantity, or remove it and add another.
            self.fields["product"].disabled = True
        else:
            self.fields["product"].queryset = Product.objects.filter(is_active=True)


class OrderForm(forms.ModelForm):
    # The version the page showed: a save or a button press is refused once the order moved on.
    expected_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    class Meta:
        model = Order
        fields = ["customer"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    form = OrderLineForm
    fields = ["product", "quantity", "unit_price"]
    readonly_fields = ["unit_price"]
    autocomplete_fields = ["product"]
    extra = 1
    min_num = 1
    validate_min = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")  # each line names it

    def _editable(self, obj):
        return obj is None or obj.status == OrderStatus.PENDING

    # Lines are part of their order: the order's permissions govern them (clerks hold no
    # order-line permissions of their own).
    def _order_perm(self, request, action):
        return request.user.has_perm(f"orders.{action}_{Order._meta.model_name}")

    def has_view_permission(self, request, obj=None):
        return self._order_perm(request, "view") or self._order_perm(request, "change")

    def has_add_permission(self, request, obj=None):
        action = "add" if obj is None else "change"
        return self._editable(obj) and self._order_perm(request, action)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and self._order_perm(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and self._order_perm(request, "change")


def _transition_action(transition: Transition):
    """An admin action (named like the command: pay, ship...) running it on each selected order."""

    @admin.action(
        description=f"{transition.command.capitalize()} selected orders", permissions=["change"]
    )
    def action(modeladmin, request, queryset):
        modeladmin.transition_run(request, queryset, transition)

    action.__name__ = transition.command
    return action


@admin.register(Order)
class OrderAdmin(CommandAdmin):
    list_display = ["id", "customer", "status", "total", "version", "created_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["=id", "customer__name", "customer__email"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    ordering = ["-created_at", "-id"]  # newest first
    inlines = [OrderLineInline]
    actions = [_transition_action(transition) for transition in TRANSITIONS.values()]
    form = OrderForm
    change_form_template = "admin/orders/order/change_form.html"

    def get_queryset(self, request):
        # The clerk's own order (write model): the total of its lines, one aggregate per page.
        return (
            super()
            .get_queryset(request)
            .annotate(
                total_amount=Sum(
                    F("lines__quantity") * F("lines__unit_price"),
                    output_field=DecimalField(max_digits=14, decimal_places=2),
                )
            )
        )

    @admin.display(description="total", ordering="total_amount")
    def total(self, obj):
        return obj.total_amount if obj.total_amount is not None else "0.00"

    def get_fields(self, request, obj=None):
        if obj:
            return [
                "customer",
                "status",
                "total",
                "version",
                "created_at",
                "updated_at",
                "expected_version",
            ]
        return ["customer"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            form.base_fields["expected_version"].initial = obj.version
        return form

    @method_decorator(csrf_protect)
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        command = request.POST.get("_transition") if request.method == "POST" else None
        if object_id and command:
            return self._transition_pressed(request, object_id, command)
        if object_id:
            order = Order.objects.filter(pk=object_id).first()
            allowed = [
                t.command for t in TRANSITIONS.values() if order and order.status in t.allowed_from
            ]
            extra_context = {**(extra_context or {}), "transitions": allowed}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _transition_pressed(self, request, object_id, command):
        """A lifecycle button on the order page: the command, with the version the page showed."""
        transition = TRANSITIONS.get(command)
        order = Order.objects.filter(pk=object_id).first()
        if transition is None or order is None or not self.has_change_permission(request, order):
            raise PermissionDenied
        raw = request.POST.get("expected_version", "")
        expected = int(raw) if raw.isascii() and raw.isdigit() else None
        try:
            transition.service(order_id=order.pk, expected_version=expected)
        except (DomainError, Order.DoesNotExist) as error:
            self.message_user(request, f"Not saved: {error_text(error)}", messages.ERROR)
        else:
            self.message_user(
                request, f"Order #{order.pk}: {transition.command} done.", messages.SUCCESS
            )
        return HttpResponseRedirect(request.path)

    def get_readonly_fields(self, request, obj=None):
        if obj:
            return ["customer", "status", "total", "version", "created_at", "updated_at"]
        return []

    def save_model(self, request, obj, form, change):
        """Nothing to save on the order row itself: save_formset runs the commands with its lines."""

    def save_formset(self, request, form, formset, change):
        order = form.instance
        # The admin's change message reads what formset.save() would have recorded.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if change:
            # One lock and one version check for every line command of this save (the admin's
            # transaction holds the lock until they commit).
            current = services.order_version_require(
                order_id=order.pk, expected_version=form.cleaned_data.get("expected_version")
            )
            if current.status != OrderStatus.PENDING:
                return  # its lines are view-only: nothing on them can change
        if not change:
            lines = [
                {"product_id": f.cleaned_data["product"].pk, "quantity": f.cleaned_data["quantity"]}
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            created = services.order_create(customer_id=order.customer_id, lines=lines)
            order.pk, order.status, order.version = created.pk, created.status, created.version
            order.created_at, order.updated_at = created.created_at, created.updated_at
            return
        for line_form in formset.forms:
            data = line_form.cleaned_data
            if not data:
                continue
            line = line_form.instance
            if data.get("DELETE") and line.pk:
                services.order_line_remove(order_id=order.pk, line_id=line.pk)
            elif not line.pk and not data.get("DELETE"):
                services.order_line_add(
                    order_id=order.pk, product_id=data["product"].pk, quantity=data["quantity"]
                )
            elif line.pk and "quantity" in line_form.changed_data:
                services.order_line_update(
                    order_id=order.pk, line_id=line.pk, quantity=data["quantity"]
                )

    def transition_run(self, request, queryset, transition: Transition):
        done, refused = 0, []
        for order_id in queryset.values_list("pk", flat=True):
            try:
                transition.service(order_id=order_id)
                done += 1
            except (DomainError, Order.DoesNotExist) as error:
                refused.append(f"#{order_id}: {error_text(error)}")
        if done:
            self.message_user(
                request,
                f"{transition.command.capitalize()}: {done} order(s) done.",
                messages.SUCCESS,
            )
        if refused:
            self.message_user(request, "Refused — " + "; ".join(refused), messages.ERROR)


@admin.register(DomainEvent)
class DomainEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The event log is append-only: viewable, never edited here."""

    list_display = ["id", "event_type", "aggregate_type", "aggregate_id", "occurred_at"]
    list_filter = ["event_type", "aggregate_type"]
    ordering = ["-id"]  # newest first
    search_fields = ["=aggregate_id", "event_type"]
    readonly_fields = ["event_type", "aggregate_type", "aggregate_id", "payload", "occurred_at"]
