"""``TokenQueryset`` and ``TokenManager``: django-esi's token queries, each one SQL query
however many tokens are involved (apart from the SSO refreshes themselves)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import app_settings, sso
from .errors import DjangoEsiException, IncompleteResponseError, SSOUnavailableError, TokenVerificationError

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import Token

logger = logging.getLogger(__name__)

#: Before any back-off end the refresh engine can set (they are all after the failure).
_LONG_AGO = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


#: Where the login keeps the PKCE code verifier until the callback (``ESI_SSO_USE_PKCE``).
CODE_VERIFIER_SESSION_KEY = "esi_sso_code_verifier"


def process_scopes(scopes: Any) -> set[str]:
    """Normalize django-esi's scope arguments into a set of names.

    Accepts ``None``, a space-delimited string, a list of strings (or a list holding one
    space-delimited string), or an iterable of ``Scope`` objects / a ``Scope`` queryset.
    """
    if scopes is None:
        return set()
    if isinstance(scopes, str):
        return set(scopes.split())
    if not isinstance(scopes, models.QuerySet):
        scopes = list(scopes)
        if len(scopes) == 1 and isinstance(scopes[0], str):
            return set(scopes[0].split())
    return {str(s) for s in scopes}


class TokenQueryset(models.QuerySet["Token"]):
    """Queries on tokens. Scope filters compile to one SQL query with a grouped subquery."""

    def _through(self) -> Any:
        return self.model.scopes.through

    def _without_scopes(self) -> TokenQueryset:
        # A subquery rather than `scopes__isnull=True`: its outer join cannot be locked
        # with SELECT ... FOR UPDATE on PostgreSQL.
        return self.exclude(pk__in=self._through().objects.values("token_id"))

    # The expiry, refresh-token and failing rules, defined once: the refresh tasks, the
    # dashboard's counts and its table filters all use these.

    @staticmethod
    def expires_by(moment: datetime.datetime) -> Q:
        """Tokens whose access token expires at or before ``moment`` (an aware
        ``datetime``): the JWT's ``exp`` (``expires_at``) where known, else ``created`` plus
        ``ESI_TOKEN_VALID_DURATION`` seconds (rows stored by django-esi)."""
        legacy = datetime.timedelta(seconds=int(app_settings.ESI_TOKEN_VALID_DURATION))
        return Q(expires_at__lte=moment) | Q(expires_at__isnull=True, created__lte=moment - legacy)

    @staticmethod
    def expires_later_than(moment: datetime.datetime) -> Q:
        """The complement of :meth:`expires_by`: the access token expires after ``moment``."""
        legacy = datetime.timedelta(seconds=int(app_settings.ESI_TOKEN_VALID_DURATION))
        return Q(expires_at__gt=moment) | Q(expires_at__isnull=True, created__gt=moment - legacy)

    @staticmethod
    def has_refresh_token() -> Q:
        """Tokens with a refresh token (``> ''`` is false for NULL and for the empty string,
        so one indexable comparison covers both)."""
        return Q(refresh_token__gt="")

    @staticmethod
    def is_failing() -> Q:
        """Tokens whose last refresh failed transiently (and are kept, backed off).

        The refresh engine sets ``refresh_backoff_until`` with every transient failure
        (with ``last_refresh_ok = False``) and clears it on success, so the indexed column
        alone tells. One condition also lets the database estimate the matching rows well:
        with a second one on ``last_refresh_ok`` PostgreSQL took the two as independent,
        expected 30 times too few rows and sorted them all instead of walking an index. It
        is asked as a range (after 2000-01-01) because SQLite does not answer ``IS NOT
        NULL`` from an index. :meth:`esi.models.Token.failing` says the same of one token.
        """
        return Q(refresh_backoff_until__gt=_LONG_AGO)

    def get_expired(self) -> TokenQueryset:
        """Tokens whose access token has expired (or expires within ``EXPIRY_LEEWAY``).

        Uses the JWT's ``exp`` where known, else ``created`` plus
        ``ESI_TOKEN_VALID_DURATION`` seconds (rows stored by django-esi).
        """
        from .models import EXPIRY_LEEWAY

        return self.filter(self.expires_by(timezone.now() + EXPIRY_LEEWAY))

    def refreshable(self) -> TokenQueryset:
        """Tokens with a refresh token (see :meth:`has_refresh_token`)."""
        return self.filter(self.has_refresh_token())

    def failing(self) -> TokenQueryset:
        """Tokens whose last refresh failed transiently (see :meth:`is_failing`)."""
        return self.filter(self.is_failing())

    def bulk_refresh(self) -> TokenQueryset:
        """Refresh every refreshable token in the queryset; delete those whose grant EVE
        SSO says is gone (or whose owner changed).

        Tokens are never deleted for transient trouble (429, 5xx, timeouts, connection
        errors): they are kept, and the run stops early when most refreshes fail that way
        (see :mod:`esi.refresh`). Unlike django-esi, expired tokens without a refresh token
        are not deleted either; they are left out of the result.

        Returns:
            The queryset minus the tokens that were deleted, could not be refreshed, or are
            expired without a refresh token.
        """
        return self._refreshed(force=True)

    def _refreshed(self, *, force: bool) -> TokenQueryset:
        """:meth:`bulk_refresh`; without ``force``, a token found fresh under its lock is
        not refreshed again, and one backing off after a failed refresh is not tried."""
        from .refresh import refresh_many

        ids = list(self.refreshable().values_list("pk", flat=True))
        failed = refresh_many(ids, force=force).failed_ids
        dead = self.exclude(self.has_refresh_token()).get_expired().values_list("pk", flat=True)
        return self.exclude(pk__in=failed).exclude(pk__in=list(dead))

    def require_valid(self) -> TokenQueryset:
        """Tokens that are valid now, refreshing the expired ones first (see
        :meth:`bulk_refresh` for what is deleted).

        An expired token whose last refresh failed for transient reasons is not tried again
        before its back-off ends (``ESI_REFRESH_BACKOFF_BASE``): it is left out, as EVE SSO
        would most likely fail it again and a view would wait for nothing. The decorators
        call this with EVE SSO given ``ESI_SSO_VIEW_TIMEOUT`` seconds in all
        (:func:`esi.sso.view_deadline`); tokens not reached by then are left out too.
        """
        expired = set(self.get_expired().values_list("pk", flat=True))
        fresh = set(self.exclude(pk__in=expired).values_list("pk", flat=True))
        refreshed = set()
        if expired:
            refreshed = set(self.filter(pk__in=expired)._refreshed(force=False).values_list("pk", flat=True))
        return self.filter(pk__in=fresh | refreshed)

    def require_scopes(self, scope_string: Any) -> TokenQueryset:
        """Tokens holding at least the given scopes.

        Args:
            scope_string: a space-delimited string or a list of names (see
                :func:`process_scopes`). Empty means tokens with no scopes at all, as in
                django-esi.
        """
        scopes = process_scopes(scope_string)
        if not scopes:
            return self._without_scopes()
        holders = (
            self._through()
            # Restricted to this queryset's tokens, so a narrow query (one character's
            # tokens) does not group the scope links of every token in the table.
            .objects.filter(token_id__in=self.values("pk"), scope__name__in=scopes)
            .values("token_id")
            .annotate(held=Count("scope_id", distinct=True))
            .filter(held=len(scopes))
            .values("token_id")
        )
        return self.filter(pk__in=holders)

    def require_scopes_exact(self, scope_string: Any) -> TokenQueryset:
        """Tokens holding exactly the given scopes, no more."""
        scopes = process_scopes(scope_string)
        if not scopes:
            return self._without_scopes()
        sized = (
            self._through()
            .objects.filter(token_id__in=self.values("pk"))
            .values("token_id")
            .annotate(held=Count("scope_id"))
            .filter(held=len(scopes))
            .values("token_id")
        )
        return self.require_scopes(scopes).filter(pk__in=sized)

    def equivalent_to(self, token: Token) -> TokenQueryset:
        """Other tokens of the same character with exactly the same scopes, owned by the
        same user or by nobody."""
        return (
            self.filter(character_id=token.character_id)
            .require_scopes_exact([s.name for s in token.scopes.all()])
            .filter(Q(user=token.user) | Q(user__isnull=True))
            .exclude(pk=token.pk)
        )


class TokenManager(models.Manager.from_queryset(TokenQueryset)):  # type: ignore[misc]
    """``Token.objects``: the queryset methods above (``Token.objects.require_scopes(...)``
    works as in django-esi) plus token creation from EVE SSO."""

    @staticmethod
    def validate_access_token(token: str) -> dict[str, Any] | None:
        """django-esi's JWT check: the verified claims plus ``character_id`` and
        ``token_type``, or ``None`` when the token does not verify."""
        try:
            claims = sso.verify_access_token(token)
        except (TokenVerificationError, SSOUnavailableError) as exc:
            logger.warning("Access token did not verify: %s", exc)
            return None
        return {
            **claims.claims,
            "character_id": claims.character_id,
            "token_type": claims.token_type,
        }

    def create_from_code(
        self, code: str, user: Any = None, code_verifier: str | None = None
    ) -> Token:
        """Exchange an authorization code at EVE SSO and store the token.

        Unless ``ESI_ALWAYS_CREATE_TOKEN`` is on, a token of ``user`` for the same
        character, owner and exact scopes is updated instead of duplicated. Other tokens
        are never touched: each keeps its own refresh token, which rotation would otherwise
        invalidate.

        Raises:
            TokenInvalidError: EVE SSO rejected the code (``invalid_grant``).
            SSOOAuthError: another OAuth error, e.g. ``invalid_client``.
            SSOUnavailableError: EVE SSO unreachable or failing.
            IncompleteResponseError: EVE SSO answered without an access token.
            TokenVerificationError: the access token failed verification.
        """
        answer = sso.exchange_code(code, code_verifier=code_verifier)
        if not answer.get("access_token"):
            raise IncompleteResponseError("EVE SSO answered without an access token")
        claims = sso.verify_access_token(answer["access_token"])
        return self.create_from_answer(answer, claims, user=user)

    @transaction.atomic
    def create_from_answer(self, answer: dict[str, Any], claims: sso.AccessTokenClaims, user: Any = None) -> Token:
        """Store a verified token response (see :meth:`create_from_code`)."""
        from .models import Scope

        user = user if user is not None and getattr(user, "is_authenticated", False) else None
        if not app_settings.ESI_ALWAYS_CREATE_TOKEN:
            existing = (
                self.get_queryset()
                .filter(character_id=claims.character_id, character_owner_hash=claims.owner_hash, user=user)
                .require_scopes_exact(claims.scopes)
                .select_for_update()
                .first()
            )
            if existing is not None:
                existing.update_from_answer(answer, claims)
                return existing
        token = self.model(
            character_id=claims.character_id,
            character_name=claims.character_name,
            character_owner_hash=claims.owner_hash,
            token_type=claims.token_type,
            user=user,
        )
        token._apply(answer, claims)
        token.save()
        if claims.scopes:
            token.scopes.set(Scope.get_or_create_many(claims.scopes))
        logger.debug("Stored %r for user %s", token, user)
        return token

    def create_from_request(self, request: HttpRequest) -> Token:
        """django-esi's entry point, which the callback view uses: the callback request's
        ``code``, owned by the request's user when logged in, with the PKCE code verifier
        the login stored in the session (taken out of it: it is good for one exchange).

        Raises:
            DjangoEsiException: no ``code`` in the request; or any error of
                :meth:`create_from_code`.
        """
        code = request.GET.get("code")
        if not code:
            raise DjangoEsiException("The callback has no authorization code")
        verifier = request.session.pop(CODE_VERIFIER_SESSION_KEY, None) if hasattr(request, "session") else None
        return self.create_from_code(code, user=request.user, code_verifier=verifier)


#: django-esi's name of :func:`process_scopes` (its tests and some apps import it).
_process_scopes = process_scopes


def unique_characters(tokens: Iterable[Token]) -> list[Token]:
    """The first token of each character, keeping order (the token selection page)."""
    seen: set[int] = set()
    result = []
    for token in tokens:
        if token.character_id not in seen:
            seen.add(token.character_id)
            result.append(token)
    return result
