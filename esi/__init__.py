"""django-esi-ng: EVE SSO v2 login, token storage and a fast ESI client for Django."""

__version__ = "0.1.0.dev0"
__title__ = "django-esi-ng"
