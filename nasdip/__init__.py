"""nasdip: neural architecture search for Deep Image Prior, as a plugin toolkit.

The package import stays light (no torch): plugins and heavy modules load on first use.
"""

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations: decorate plugin functions with ``@nasdip.hookimpl``.
hookimpl = pluggy.HookimplMarker("nasdip")

__all__ = ["__version__", "hookimpl"]
