# Keep the access token's expiry from the JWT's `exp` instead of deriving it from `created`.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('esi', '0013_squashed_0012_fix_token_type_choices'),
    ]

    operations = [
        migrations.AddField(
            model_name='token',
            name='expires_at',
            field=models.DateTimeField(blank=True, db_index=True, editable=False, help_text="When the access token expires: the JWT's exp claim.", null=True),
        ),
    ]
