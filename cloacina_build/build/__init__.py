"""Building a project into a package: the PEP 517 wheel build, cargo builds, the writer.
Imports everything below it (``project``, ``format``, ``trust``, ``ops``).
"""
