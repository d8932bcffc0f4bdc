"""The nas-search application: config, CLI, the Ray Tune runner, results, Pareto fronts, export."""
