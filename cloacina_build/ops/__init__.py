"""Operations on a package file: inspect, validate (and verify), sign.
Imports the base modules, ``project``, ``format`` and ``trust``.
"""
