"""The families of checks ``validate_package`` runs, one module each.

- :mod:`.scan`: the one streaming pass (framing, member names and limits, digests, the
  head read into the typed model, the payload copied aside, signature members collected);
- :mod:`.metadata`: ``package.toml`` against the manifest, the payload's name and identity;
- :mod:`.members`: every listed member present with its size and sha256, nothing unlisted;
- :mod:`.wheel`: a wheel payload's structure, RECORD and its tasks rediscovered;
- :mod:`.native`: a native payload's ELF facts and embedded task graph;
- :mod:`.signatures`: signatures judged by the trust policy;
- :mod:`.workflow`: the task graph and the workflow fingerprint;
- :mod:`.host`: whether this machine can run the payload (warnings).

Every check takes the typed :class:`~cloacina_build.model.Manifest` and returns findings.
"""
