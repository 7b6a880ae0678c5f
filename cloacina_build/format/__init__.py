"""The package format: archive framing, the tar reader and writer, the manifest, member
names, limits, schemas, wheels and ELF facts. Imports the base modules and ``project``.
"""
