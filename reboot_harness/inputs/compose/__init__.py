"""inputs/compose: a user's compose files, read and judged before the engine is asked anything —
readable (files), pointing the engine only where it may (roots), not voiding the rehearsal
(rules), resolved by Compose with the engine out of reach (offline), their relative paths
anchored to their own folder (anchor); read as their services without Compose (services), judged
for what does not boot like a server (doctor) and turned into a topology and the boot model's
override (adopt), the boot model read where the shipped stack states it (boot). Imports model,
errors and the rest of inputs; never the stack."""
