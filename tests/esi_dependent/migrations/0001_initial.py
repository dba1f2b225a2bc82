# Depends on django-esi's migration name, as allianceauth.authentication's 0025_v5squash does.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('esi', '0012_fix_token_type_choices'),
    ]

    operations = [
        migrations.CreateModel(
            name='TokenNote',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('text', models.CharField(max_length=100)),
                ('token', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='esi.token')),
            ],
        ),
    ]
