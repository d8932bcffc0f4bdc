"""Running trials on Ray: the runner, the thin Tune `Searcher` over the ledger, the private Ray
session, trial functions, fail-fast, preflight, and the latency and supernet actors."""
