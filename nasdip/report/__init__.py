"""Reports: benchmarks, step timings, what a search learned (analyze), comparisons of searches, figures."""
