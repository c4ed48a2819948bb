"""How a route lists its guards.

::

    guards:
      on_error: closed          # a guard that crashes or times out: closed = refuse, open = let it pass
      timeout_ms: 250
      input:
        - pii: {action: redact, restore: true}
        - injection: {threshold: 0.7, action: block}
      output:
        - pii: {action: block}
        - plugin: mycompany.guards:ToneCheck   # a guard of your own
          name: tone
          params: {max_exclamations: 2}

Each entry is one built-in guard named by its key, with its parameters, or ``plugin`` with a
``module:Class`` path. Parameters are checked against the guard's ``Params`` model when the config loads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from keel.config.base import StrictModel


class GuardsConfig(StrictModel):
    on_error: Literal["open", "closed"] = "closed"
    """What a guard that crashes or times out means: ``closed`` refuses the request, ``open`` lets it pass."""
    timeout_ms: float = Field(default=250.0, gt=0, le=60_000)
    """Per guard and stage; data-source lookups (business rules) count against it too."""
    input: tuple[dict[str, Any], ...] = ()
    output: tuple[dict[str, Any], ...] = ()
