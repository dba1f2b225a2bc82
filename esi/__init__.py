"""django-esi-ng: EVE SSO v2 login, token storage and a fast ESI client for Django."""

__version__ = "0.1.0.dev0"
__title__ = "django-esi-ng"
#: Where the package is published (django-esi's ``esi.__url__``).
__url__ = "https://pypi.org/project/django-esi-ng/"
#: The compatibility date of the bundled OpenAPI spec, the client's default
#: ``X-Compatibility-Date`` (django-esi 10's ``esi.__esi_compatibility_date__``).
__esi_compatibility_date__ = "2026-08-04"
