"""Authentication: Django's backend with a user's permissions read in one query instead of two;
DRF's token authentication with failed attempts throttled per client."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.throttling import SimpleRateThrottle


class OneQueryModelBackend(ModelBackend):
    """Every permission check of a request reads the user's own and group permissions once,
    together (Django's ModelBackend reads them in two queries)."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                permissions = Permission.objects.all()
            else:
                permissions = Permission.objects.filter(
                    Q(user=user_obj) | Q(group__user=user_obj)
                ).distinct()
            rows = permissions.values_list("content_type__app_label", "codename")
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        return user_obj._perm_cache


class FailedTokenThrottle(SimpleRateThrottle):
    """Failed token attempts per client address (REMOTE_ADDR, or as API_NUM_PROXIES says), at
    API_THROTTLE_AUTH_FAILURES. Only failures are recorded: a valid token costs nothing."""

    scope = "auth_failures"

    def get_rate(self):
        return settings.API_THROTTLE_AUTH_FAILURES

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def locked(self, request) -> bool:
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def failure_record(self) -> None:
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


class ThrottledTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused with 429 (and Retry-After) before the key is looked
    up once its client has failed too often: guessing keys stops at the limit. A locked-out
    address is refused even with a valid key until the window passes."""

    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != self.keyword.lower().encode():
            return None
        throttle = FailedTokenThrottle()
        if throttle.locked(request):
            raise Throttled(wait=throttle.wait())
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle.failure_record()
            raise
