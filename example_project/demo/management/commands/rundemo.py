"""``manage.py rundemo``: the emulator and the development server in one process."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from esi.emulator import Emulator


class Command(BaseCommand):
    help = (
        "Run the ESI + SSO emulator and the demo site (what `make demo` runs). "
        "Ports come from the DEMO_PORT and DEMO_EMULATOR_PORT environment variables."
    )

    def handle(self, *args, **options):
        port, emulator_port = settings.DEMO_PORT, settings.EMULATOR_PORT
        emulator = Emulator(
            port=emulator_port,
            client_id=settings.ESI_SSO_CLIENT_ID,
            client_secret=settings.ESI_SSO_CLIENT_SECRET,
        ).start()
        self.stdout.write(f"ESI + SSO emulator on {emulator.url}")
        self.stdout.write(f"Demo site on http://127.0.0.1:{port}/")
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        finally:
            emulator.stop()
