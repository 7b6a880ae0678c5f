"""Reading workflow projects: configuration, source trees, static discovery of Python and
Rust tasks, fingerprints, trigger rules and the task graph. Imports only the base modules.
"""
