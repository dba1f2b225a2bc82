"""One process-wide lock around every call into bravado-core's spec machinery.

bravado-core memoizes ``get_validator_type``, ``_get_marshaling_method``,
``_get_unmarshaling_method`` and ``handle_null_value`` with ``bravado_core.util.memoize_by_id``,
which marks a cache key "in progress" in a set shared by all threads. A second thread that
misses the same key while the first is still computing it gets
``bravado_core.util.RecursiveCallException`` instead of a value (and a key whose computation
raised stays "in progress" for good). Threaded servers (gunicorn ``--threads``, the client's
own page executor) meet exactly that on their first concurrent calls.

Only the slow paths take this lock: building a resource, marshalling a request body or a
parameter the plain path cannot handle, the decoders bravado-core still runs
(``discriminator``) and opt-in response validation. The hot paths (primitive parameters,
compiled decoders) never touch bravado-core.

Rule that keeps it deadlock-free: never build a resource (``Resource.build``, which takes
the resource's own lock) while holding this lock. Build first, then lock.
"""

from __future__ import annotations

import threading

#: Re-entrant: a resource build may marshal defaults inside bravado-core.
BRAVADO_LOCK = threading.RLock()
