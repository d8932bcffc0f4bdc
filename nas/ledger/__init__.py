"""What makes a search durable, without Ray: the journal and controller state (`ledger`), the run
directory's files (`run_dir`), a trial's outcome (`trial_outcome`), kept weights and the results
as pandas. Nothing here imports Ray, so all of it is tested without a cluster."""
