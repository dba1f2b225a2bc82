"""The objects the ESI client returns: dicts that also read like django-esi 10's models.

django-esi 7 (bravado-core, ``use_models: False``) returned every JSON object of a response
as a ``dict``; django-esi 10 (aiopenapi3) returns pydantic models, read as attributes
(``character.name``) and turned into dicts with ``model_dump()``. An :class:`EsiObject` is
both: a ``dict`` subclass, so ``data["name"]``, ``isinstance(data, dict)``, ``json.dumps``
and ``==`` with plain dicts work as they did, that also answers ``data.name`` and
``data.model_dump()``.

Every property the spec declares for the object is a key, ``None`` when ESI left it out
(the decoders fill missing properties in, as bravado-core does), so ``data.alliance_id``
is ``None`` for a character without an alliance, as with django-esi 10. A name the spec
does not declare raises ``AttributeError``.

Two property names in ESI's spec are also ``dict`` methods: ``items`` (fittings, killmail
victims, corporation projects) and ``values`` (freelance job parameters). On objects of
those schemas, ``data.items`` is the property, as in django-esi 10; the dict method is
``dict.items(data)``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any

_DUMP_OPTIONS = frozenset({"mode", "include", "exclude", "exclude_none", "by_alias"})


class EsiObject(dict[str, Any]):
    """A JSON object of an ESI response: a ``dict`` whose keys are also attributes.

    ``obj.name`` is ``obj["name"]``; ``obj.name = v`` sets the key. Equality, hashing
    (none: it is a dict), pickling and ``copy`` are the dict's.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: dict methods and class attributes win.
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__!s} has no attribute or key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *(k for k in self if isinstance(k, str))]

    def model_dump(
        self,
        *,
        mode: str = "python",
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        exclude_none: bool = False,
        by_alias: bool = False,
    ) -> dict[str, Any]:
        """A plain ``dict`` copy, nested objects and lists included (pydantic's
        ``model_dump``, as django-esi 10's models offer it).

        ``mode="json"`` writes ``datetime`` and ``date`` values as ISO 8601 strings (UTC as
        ``Z``); ``include`` / ``exclude`` keep or drop top-level keys; ``exclude_none`` drops
        ``None`` values at every level. ``by_alias`` changes nothing: ESI's property names
        are the Python names. Raises ``ValueError`` for another ``mode``.
        """
        if mode not in ("python", "json"):
            raise ValueError(f"mode must be 'python' or 'json', not {mode!r}")
        keep = None if include is None else set(include)
        drop = set(exclude or ())
        return {
            key: _plain(value, mode == "json", exclude_none)
            for key, value in dict.items(self)
            if (keep is None or key in keep) and key not in drop and not (exclude_none and value is None)
        }

    def model_dump_json(self, **options: Any) -> str:
        """:meth:`model_dump` with ``mode="json"``, encoded as a JSON string."""
        unknown = set(options) - _DUMP_OPTIONS
        if unknown:
            raise TypeError(f"model_dump_json() got unexpected keyword arguments {sorted(unknown)}")
        options["mode"] = "json"
        return json.dumps(self.model_dump(**options), separators=(",", ":"))


class _Field:
    """A declared property whose name is also a ``dict`` method (``items``, ``values``):
    on instances the property's value, on the class the method (for ``dict.items``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.method = getattr(dict, name)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.method
        return dict.get(instance, self.name)


_classes: dict[frozenset[str], type[EsiObject]] = {frozenset(): EsiObject}
_DICT_NAMES = frozenset(dir(dict))


def object_class(properties: Iterable[str]) -> type[EsiObject]:
    """The :class:`EsiObject` class for an object schema declaring ``properties``: the base
    class, or a subclass for schemas declaring a property named like a ``dict`` method."""
    clash = frozenset(name for name in properties if name in _DICT_NAMES)
    cls = _classes.get(clash)
    if cls is None:
        namespace: dict[str, Any] = {name: _Field(name) for name in clash}
        namespace["__slots__"] = ()
        namespace["__reduce__"] = _reduce
        cls = type("EsiObject", (EsiObject,), namespace)
        cls.__qualname__ = f"EsiObject[{', '.join(sorted(clash))}]"
        _classes[clash] = cls
    return cls


def _reduce(self: EsiObject) -> tuple[Any, ...]:
    # The subclasses are made at run time: pickle them by the names they carry.
    clash = sorted(name for name, value in vars(type(self)).items() if isinstance(value, _Field))
    return (_rebuild, (clash, dict(self)))


def _rebuild(clash: list[str], data: dict[str, Any]) -> EsiObject:
    return object_class(clash)(data)


def _plain(value: Any, json_mode: bool, exclude_none: bool) -> Any:
    if isinstance(value, dict):
        return {
            k: _plain(v, json_mode, exclude_none)
            for k, v in dict.items(value)
            if not (exclude_none and v is None)
        }
    if isinstance(value, list):
        return [_plain(v, json_mode, exclude_none) for v in value]
    if json_mode and isinstance(value, (datetime.datetime, datetime.date)):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value
