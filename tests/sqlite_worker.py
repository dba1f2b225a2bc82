"""A separate process working on a file SQLite database, for the SQLite lock fallback test.

    python -m tests.sqlite_worker create         -> prints the new token's id
    python -m tests.sqlite_worker refresh ID     -> prints the access token it got

Environment: ``SQLITE_FILE`` (the database), ``EMULATOR_URL``.
"""

import os
import sys

import django


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = os.environ["SQLITE_FILE"]
    settings.ESI_SSO_BASE_URL = settings.ESI_API_URL = os.environ["EMULATOR_URL"]
    from django.core.management import call_command

    from esi import sso
    from esi.models import Token

    command = sys.argv[1]
    if command == "create":
        import requests

        call_command("migrate", verbosity=0)
        answer = requests.post(
            os.environ["EMULATOR_URL"] + "/_emulator/tokens",
            json={"character_id": 90000001, "scopes": ["esi-mail.read_mail.v1"], "client_id": "test-client-id"},
            timeout=10,
        ).json()
        token = Token.objects.create_from_answer(answer, sso.verify_access_token(answer["access_token"]))
        Token.objects.filter(pk=token.pk).update(expires_at="2000-01-01T00:00:00Z")
        print(token.pk)
    elif command == "refresh":
        print(Token.objects.get(pk=int(sys.argv[2])).valid_access_token())


if __name__ == "__main__":
    main()
