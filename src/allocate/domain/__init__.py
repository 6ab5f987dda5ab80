"""The domain: a grants round as validated, immutable data, its rules, and their accounting."""
