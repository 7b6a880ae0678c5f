"""Keys, signature records, trust stores and the one verification policy.
Imports the base modules and ``format``.
"""
