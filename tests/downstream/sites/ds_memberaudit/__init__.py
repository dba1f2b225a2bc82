from ds_celery import app as celery_app  # noqa: F401  (as an Alliance Auth project's __init__)
