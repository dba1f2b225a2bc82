"""A test app whose migration depends on django-esi's ``0012_fix_token_type_choices``, as
Alliance Auth's do, so every test run migrates a graph that needs django-esi's names."""
