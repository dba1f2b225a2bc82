from django.db import models


class TokenNote(models.Model):
    """A row pointing at a token, as apps built on django-esi keep them."""

    id = models.AutoField(primary_key=True)
    token = models.ForeignKey("esi.Token", on_delete=models.CASCADE)
    text = models.CharField(max_length=100)
