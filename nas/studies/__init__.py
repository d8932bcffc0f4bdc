"""Fixed lists of trainings run through the engine: the alpha/beta/gamma grid and proxy fidelity,
each a study folder that a rerun resumes."""
