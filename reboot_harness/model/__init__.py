"""model: the typed, frozen values every layer passes to the others — check results, step
errors and budgets exceeded (results), the checks' cause codes (checks), topologies, step kinds,
scenarios, incidents, events, traffic. Imports errors only; no Docker, no I/O."""
