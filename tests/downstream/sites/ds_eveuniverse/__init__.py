from ds_celery import app as celery_app  # noqa: F401  (as a Django project's __init__)
