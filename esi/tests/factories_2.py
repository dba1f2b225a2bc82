"""django-esi 10's factory_boy factories (``esi.tests.factories_2``) for the esi models.

``TokenFactory`` makes a stored token as a test needs it, without EVE SSO: random access and
refresh tokens (the access token is not a JWT, so its expiry is ``created`` plus
``ESI_TOKEN_VALID_DURATION``), a user, a character and ``scopes=[...]`` (``Scope`` rows).
Needs factory_boy (and Faker), as django-esi 10's did.
"""

from __future__ import annotations

from typing import Any

import factory
import factory.fuzzy

from esi.models import CallbackRedirect, Scope, Token


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)
        exclude = ("_generated_name",)

    _generated_name = factory.Faker("name")
    username = factory.LazyAttribute(lambda obj: obj._generated_name.replace(" ", "_"))
    first_name = factory.LazyAttribute(lambda obj: obj._generated_name.split(" ")[0])
    last_name = factory.LazyAttribute(lambda obj: obj._generated_name.split(" ")[-1])
    email = factory.LazyAttribute(lambda obj: f"{obj.first_name.lower()}.{obj.last_name.lower()}@example.com")


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token
        # scopes= adds rows to the m2m table; the token itself needs no second save.
        skip_postgeneration_save = True

    access_token = factory.Faker("pystr", min_chars=2_507, max_chars=2_507)
    refresh_token = factory.Faker("pystr", min_chars=24, max_chars=24)
    user = factory.SubFactory(UserFactory)
    character_id = factory.fuzzy.FuzzyInteger(low=90_000_000, high=98_000_000)
    character_name = factory.Faker("name")
    token_type = Token.TOKEN_TYPE_CHARACTER
    character_owner_hash = factory.Faker("pystr", min_chars=28, max_chars=28)
    sso_version = 2

    @factory.post_generation
    def scopes(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.scopes.add(*extracted)


class ScopeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scope

    name = factory.Faker("word")
    help_text = factory.Faker("sentence")


class CallbackRedirectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallbackRedirect

    session_key = factory.Faker("md5")
    url = factory.Faker("uri_path", deep=3)
    state = factory.Faker("sha1")
