"""Fixed lists of trainings run through the engine: the alpha/beta/gamma grid, proxy fidelity and
compare, each a study folder that a rerun resumes."""
