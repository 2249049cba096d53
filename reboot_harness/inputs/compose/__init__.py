"""inputs/compose: a user's compose files, read and judged before the engine is asked anything —
readable (files), pointing the engine only where it may (roots), not voiding the rehearsal
(rules), resolved by Compose with the engine out of reach (offline), their relative paths
anchored to their own folder (anchor). Imports model and errors; never the stack."""
