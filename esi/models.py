"""``Token``, ``Scope`` and ``CallbackRedirect``: the django-esi models.

The tables, field names and migration ``0001_initial`` match django-esi 7 and 10, so a site
can move from django-esi without losing a token; columns this package adds come in later
migrations.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any, ClassVar, Self

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import app_settings
from .errors import NotRefreshableTokenError, TokenExpiredError, TokenInvalidError
from .managers import TokenManager

if TYPE_CHECKING:
    from .sso import AccessTokenClaims

logger = logging.getLogger(__name__)

#: An access token counts as expired this many seconds before its ``exp``, so a request
#: started with it does not arrive at ESI after it died (django-esi used 1170 of 1199 s).
EXPIRY_LEEWAY = datetime.timedelta(seconds=30)


class Scope(models.Model):
    """An ESI scope (``esi-characters.read_notifications.v1``) granted by EVE SSO."""

    name = models.CharField(
        max_length=100, unique=True, help_text="The official EVE name for the scope."
    )
    help_text = models.TextField(help_text="The official EVE description of the scope.")

    @property
    def friendly_name(self) -> str:
        """``read notifications`` for ``esi-characters.read_notifications.v1``."""
        return self._friendly_name(self.name)

    @classmethod
    def _friendly_name(cls, name: str) -> str:
        try:
            return name.split(".")[1].replace("_", " ").strip()
        except IndexError:
            return name

    @classmethod
    def get_or_create_many(cls, names: list[str]) -> list[Self]:
        """The ``Scope`` rows for ``names``, creating the missing ones in one query.

        Returns:
            One ``Scope`` per distinct name, in no particular order.
        """
        wanted = set(names)
        existing = {s.name: s for s in cls.objects.filter(name__in=wanted)}
        missing = wanted - existing.keys()
        if missing:
            cls.objects.bulk_create(
                [cls(name=n, help_text=cls._friendly_name(n).capitalize()) for n in missing],
                ignore_conflicts=True,
            )
            existing = {s.name: s for s in cls.objects.filter(name__in=wanted)}
        return list(existing.values())

    def __str__(self) -> str:
        return self.name


class Token(models.Model):
    """An EVE SSO grant for one character: the access token, the refresh token and the
    scopes. ``character_owner_hash`` changes when the character changes account."""

    TOKEN_TYPE_CHARACTER = "character"
    TOKEN_TYPE_CORPORATION = "corporation"
    TOKEN_TYPE_CHOICES = [
        (TOKEN_TYPE_CHARACTER, _("Character")),
        (TOKEN_TYPE_CORPORATION, _("Corporation")),
    ]

    created = models.DateTimeField(auto_now_add=True)
    access_token = models.TextField(help_text="The access token granted by SSO.", editable=False)
    refresh_token = models.TextField(
        null=True,
        help_text="A re-usable token to generate new access tokens upon expiry.",
        editable=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        blank=True,
        null=True,
        help_text="The user to whom this token belongs.",
    )
    character_id = models.IntegerField(
        db_index=True, help_text="The ID of the EVE character who authenticated by SSO."
    )
    character_name = models.CharField(
        max_length=100,
        db_index=True,
        help_text="The name of the EVE character who authenticated by SSO.",
    )
    token_type = models.CharField(
        max_length=100,
        choices=TOKEN_TYPE_CHOICES,
        default=TOKEN_TYPE_CHARACTER,
        help_text="The applicable range of the token.",
    )
    character_owner_hash = models.CharField(
        max_length=254,
        db_index=True,
        help_text=(
            "The unique string identifying this character and its owning EVE "
            "account. Changes if the owning account changes."
        ),
    )
    scopes = models.ManyToManyField(
        Scope, blank=True, help_text="The access scopes granted by this token."
    )
    sso_version = models.IntegerField(help_text="EVE SSO Version.", default=2)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        editable=False,
        help_text="When the access token expires: the JWT's exp claim.",
    )
    last_refresh_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When a refresh was last attempted."
    )
    last_refresh_ok = models.BooleanField(
        null=True, blank=True, editable=False, help_text="Whether the last refresh succeeded."
    )
    last_refresh_error = models.CharField(
        max_length=255, blank=True, default="", editable=False,
        help_text="Why the last refresh failed, if it did.",
    )
    refresh_failures = models.PositiveIntegerField(
        default=0, editable=False, help_text="Consecutive transient refresh failures."
    )
    refresh_backoff_until = models.DateTimeField(
        null=True, blank=True, db_index=True, editable=False,
        help_text="Background refreshes skip the token until then, after transient failures.",
    )


    objects: ClassVar[TokenManager] = TokenManager()

    def __str__(self) -> str:
        try:
            scopes = sorted(s.name for s in self.scopes.all())
        except ValueError:  # unsaved
            scopes = []
        return f"{self.character_name} - {', '.join(scopes)}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(id={self.pk}): {self.character_id}, {self.character_name}>"

    @property
    def can_refresh(self) -> bool:
        """Whether the token has a refresh token."""
        return bool(self.refresh_token)

    @property
    def expires(self) -> datetime.datetime:
        """When the access token expires (aware ``datetime``): the JWT's ``exp``, or for
        rows stored by django-esi, ``created`` plus ``ESI_TOKEN_VALID_DURATION`` seconds."""
        if self.expires_at is not None:
            return self.expires_at
        created = self.created or timezone.now()
        return created + datetime.timedelta(seconds=int(app_settings.ESI_TOKEN_VALID_DURATION))

    @property
    def failing(self) -> bool:
        """Whether the last refresh failed transiently and the token is backed off (the
        rule of :meth:`esi.managers.TokenQueryset.is_failing`)."""
        return self.refresh_backoff_until is not None

    @property
    def expired(self) -> bool:
        """Whether the access token is expired, or will be within ``EXPIRY_LEEWAY``."""
        return self.expires - EXPIRY_LEEWAY <= timezone.now()

    def valid_access_token(self) -> str:
        """The access token, refreshed first if it has expired.

        If another worker refreshed the token meanwhile, its new access token is used
        without asking EVE SSO again. While the token backs off after a failed refresh
        (``refresh_backoff_until``), EVE SSO is not asked either.

        Raises:
            TokenExpiredError: it expired and cannot be refreshed.
            SSOUnavailableError: the refresh failed, now or recently (the token is backing
                off; ``retry_after`` holds the seconds left).
            TokenInvalidError, SSOOAuthError: see :meth:`refresh`.
        """
        if self.expired:
            if not self.can_refresh:
                raise TokenExpiredError()
            self._refresh(force=False)
        return self.access_token

    def refresh(self, session: Any = None, auth: Any = None) -> None:
        """Refresh the access token at EVE SSO and save the answer.

        The token row is locked meanwhile, and the refresh token that comes back is stored
        at once (CCP: it may differ from the one sent). If the new JWT's owner hash or
        character differs from this token's, the character changed account and the grant
        is not this token's. The token is never deleted here (see :meth:`refresh_or_delete`).

        Args:
            session, auth: accepted for django-esi compatibility and ignored.

        Raises:
            NotRefreshableTokenError: no refresh token.
            TokenInvalidError: EVE SSO rejected the grant, or the owner changed: delete it.
            SSOUnavailableError: SSO unreachable or failing: keep the token.
            SSOOAuthError: another OAuth error (e.g. ``invalid_client``): check settings.
            TokenVerificationError: the new access token did not verify.
        """
        self._refresh(force=True)

    def _refresh(self, *, force: bool, delete_invalid: bool = False) -> None:
        from .refresh import Outcome, refresh_one

        if self.pk is None:
            raise NotRefreshableTokenError("An unsaved token cannot be refreshed")
        result = refresh_one(self.pk, force=force, delete_invalid=delete_invalid)
        if result.outcome is Outcome.MISSING:
            raise TokenInvalidError("The token no longer exists", reason="deleted")
        if result.token is not None:
            for f in self._meta.concrete_fields:
                setattr(self, f.attname, getattr(result.token, f.attname))
        if result.error is not None:
            raise result.error

    def _apply(self, answer: dict[str, Any], claims: AccessTokenClaims) -> None:
        self.access_token = answer["access_token"]
        self.refresh_token = answer.get("refresh_token") or self.refresh_token
        self.expires_at = datetime.datetime.fromtimestamp(claims.expires_at, tz=datetime.UTC)
        # django-esi derived expiry from `created` and reset it on refresh; keep doing so
        # for code that reads it that way.
        self.created = timezone.now()
        self.sso_version = 2

    def refresh_or_delete(self) -> None:
        """Refresh; delete the token only if EVE SSO says the grant is gone.

        Unlike django-esi, a transient failure (SSO down, 429, timeout) keeps the token and
        raises :class:`~esi.errors.SSOUnavailableError`.
        """
        self._refresh(force=True, delete_invalid=True)

    def get_esi_client(self, **kwargs: Any) -> Any:
        """An ESI client that authenticates with this token (see ``esi.clients``)."""
        from .clients import esi_client_factory

        return esi_client_factory(token=self, **kwargs)

    @classmethod
    def get_token_data(cls, access_token: str) -> dict[str, Any] | None:
        """The verified claims of an access token as django-esi returned them, or ``None``."""
        return TokenManager.validate_access_token(access_token)

    def update_token_data(self, commit: bool = True) -> None:
        """Set ``character_id``, ``character_name``, ``character_owner_hash`` and
        ``token_type`` from the access token's verified JWT claims (refreshing it first if
        it expired), and save unless ``commit`` is false (django-esi's method).

        Raises:
            TokenExpiredError: it expired and cannot be refreshed.
            TokenVerificationError: the access token is not a valid EVE SSO JWT.
            SSOUnavailableError: the EVE SSO key set cannot be fetched.
            TokenInvalidError, SSOOAuthError: see :meth:`refresh`.
        """
        from .errors import TokenVerificationError

        # Through get_token_data(), as django-esi, so that overriding it takes effect.
        data = self.get_token_data(self.valid_access_token())
        if data is None:
            raise TokenVerificationError("malformed", "The access token did not verify (see the log)")
        self.character_id = data["character_id"]
        self.character_name = data["name"]
        self.character_owner_hash = data["owner"]
        self.token_type = data["token_type"]
        if commit:
            self.save()

    @classmethod
    def get_token(cls, character_id: int, scopes: Any) -> Token | bool:
        """A token of ``character_id`` holding at least ``scopes`` (a list or a
        space-delimited string), or ``False`` when there is none (django-esi's contract)."""
        token = cls.objects.filter(character_id=character_id).require_scopes(scopes).first()
        return token or False

    @transaction.atomic
    def update_from_answer(self, answer: dict[str, Any], claims: AccessTokenClaims) -> None:
        """Store a fresh token response for this token (used when a new login matches it)."""
        self._apply(answer, claims)
        self.save()


class CallbackRedirect(models.Model):
    """A pending EVE SSO login: the ``state`` sent to SSO, the session it belongs to and
    where to go back to. Filled with the token once the callback succeeds."""

    session_key = models.CharField(
        max_length=254,
        unique=True,
        help_text="Session key identifying the session this redirect was created for.",
    )
    url = models.TextField(default="/", help_text="The internal URL to redirect this callback towards.")
    state = models.CharField(max_length=128, help_text="OAuth2 state string representing this session.")
    created = models.DateTimeField(auto_now_add=True)
    token = models.ForeignKey(
        Token,
        on_delete=models.CASCADE,
        blank=True,
        null=True,
        help_text="Token generated by a completed code exchange from callback processing.",
    )

    def __str__(self) -> str:
        return f"{self.session_key[:8]}…: {self.url}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(pk={self.pk}): to {self.url}>"

