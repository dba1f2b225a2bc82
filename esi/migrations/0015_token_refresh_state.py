# Where the refresh engine records each token's last outcome and back-off (esi.refresh).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('esi', '0014_token_expires_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='token',
            name='last_refresh_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When a refresh was last attempted.', null=True),
        ),
        migrations.AddField(
            model_name='token',
            name='last_refresh_error',
            field=models.CharField(blank=True, default='', editable=False, help_text='Why the last refresh failed, if it did.', max_length=255),
        ),
        migrations.AddField(
            model_name='token',
            name='last_refresh_ok',
            field=models.BooleanField(blank=True, editable=False, help_text='Whether the last refresh succeeded.', null=True),
        ),
        migrations.AddField(
            model_name='token',
            name='refresh_backoff_until',
            field=models.DateTimeField(blank=True, db_index=True, editable=False, help_text='Background refreshes skip the token until then, after transient failures.', null=True),
        ),
        migrations.AddField(
            model_name='token',
            name='refresh_failures',
            field=models.PositiveIntegerField(default=0, editable=False, help_text='Consecutive transient refresh failures.'),
        ),
    ]
