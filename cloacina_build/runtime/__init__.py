"""Loading packages in a host and running workflows: the cache, private imports, the
``cloaca`` stand-in and the runner. Imports everything below ``cli``.
"""
