# django-esi's migration of this name, kept so that apps whose migrations depend on it (Alliance
# Auth depends on 0012_fix_token_type_choices) and databases migrated by django-esi 7 or 10 find
# it. The schema django-esi reached by 0013 is built by 0001_initial here; this one changes
# nothing. See the migration guide, "Moving a site".

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('esi', '0008_nullable_refresh_token'),
    ]

    operations = []
