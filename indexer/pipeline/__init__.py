"""Building an index: training, the full build, updates and the Ray engine."""
