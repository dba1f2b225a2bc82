"""The Swagger-era names of request bodies, for calls written for django-esi 7.

ESI's Swagger 2.0 specs named each operation's body parameter (``ids`` for
``post_universe_names``, ``characters`` for ``post_characters_affiliation``); the OpenAPI 3
specs have an unnamed ``requestBody``, which this package calls ``body`` (as django-esi 10
does). On an OpenAPI spec, an operation accepts its Swagger-era body name too, so
``client.Universe.post_universe_names(ids=[...])`` keeps working.

The table is ESI's Swagger 1.3.8 spec (shipped in django-esi 7.0.1's tests), which agrees
with the last Swagger spec, v1.36; ``tests/openapi/test_spec.py`` checks it against both.
Keys are ``(method, path)`` with the path as in the OpenAPI spec (no trailing slash).
"""

from __future__ import annotations

BODY_PARAMETERS: dict[tuple[str, str], str] = {
    ('post', '/characters/affiliation'): 'characters',
    ('post', '/characters/{character_id}/assets/locations'): 'item_ids',
    ('post', '/characters/{character_id}/assets/names'): 'item_ids',
    ('put', '/characters/{character_id}/calendar/{event_id}'): 'response',
    ('post', '/characters/{character_id}/contacts'): 'contact_ids',
    ('put', '/characters/{character_id}/contacts'): 'contact_ids',
    ('post', '/characters/{character_id}/cspa'): 'characters',
    ('post', '/characters/{character_id}/fittings'): 'fitting',
    ('post', '/characters/{character_id}/mail'): 'mail',
    ('post', '/characters/{character_id}/mail/labels'): 'label',
    ('put', '/characters/{character_id}/mail/{mail_id}'): 'contents',
    ('post', '/corporations/{corporation_id}/assets/locations'): 'item_ids',
    ('post', '/corporations/{corporation_id}/assets/names'): 'item_ids',
    ('put', '/fleets/{fleet_id}'): 'new_settings',
    ('post', '/fleets/{fleet_id}/members'): 'invitation',
    ('put', '/fleets/{fleet_id}/members/{member_id}'): 'movement',
    ('put', '/fleets/{fleet_id}/squads/{squad_id}'): 'naming',
    ('put', '/fleets/{fleet_id}/wings/{wing_id}'): 'naming',
    ('post', '/ui/openwindow/newmail'): 'new_mail',
    ('post', '/universe/ids'): 'names',
    ('post', '/universe/names'): 'ids',
}
