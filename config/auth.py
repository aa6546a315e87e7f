"""Authentication: Django's backend with a user's permissions read in one query instead of two,
and DRF's token authentication reading them together with the token and its user."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

# The cache attribute OneQueryModelBackend reads a user's permissions from (one request's user).
PERMISSIONS_CACHE = "_perm_cache"


def _permissions(user) -> Q:
    return Q(user=user) | Q(group__user=user)


class OneQueryModelBackend(ModelBackend):
    """Every permission check of a request reads the user's own and group permissions once,
    together (Django's ModelBackend reads them in two queries)."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, PERMISSIONS_CACHE):
            if user_obj.is_superuser:
                permissions = Permission.objects.all()
            else:
                permissions = Permission.objects.filter(_permissions(user_obj)).distinct()
            rows = permissions.values_list("content_type__app_label", "codename")
            setattr(user_obj, PERMISSIONS_CACHE, {f"{app}.{codename}" for app, codename in rows})
        return getattr(user_obj, PERMISSIONS_CACHE)


# "app_label.codename" of each permission the token's user holds, directly or through a group.
_TOKEN_USER_PERMISSIONS = ArraySubquery(
    Permission.objects.filter(_permissions(OuterRef("user_id")))
    .annotate(qualified=Concat("content_type__app_label", Value("."), "codename"))
    .values("qualified")
    .distinct()
)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (same header, same errors), whose one query also reads the
    user's permissions for OneQueryModelBackend: a report request checks its permission without
    another round trip. Read in every request, never kept: a revoked permission counts at once."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = (
                model.objects.select_related("user")
                .annotate(permission_names=_TOKEN_USER_PERMISSIONS)
                .get(key=key)
            )
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None

        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not token.user.is_superuser:  # a superuser's checks never read permissions
            setattr(token.user, PERMISSIONS_CACHE, set(token.permission_names))
        return (token.user, token)
