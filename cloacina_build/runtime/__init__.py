"""Loading packages in a host and running workflows: the loader (``loader``), its cache
(``cache``), private imports (``isolation``), the ``cloaca`` stand-in (``cloaca_compat``)
and the runner (``runner``, with ``schedule``, ``rules``, ``retries`` and ``params``).
Imports everything below ``cli``.
"""
