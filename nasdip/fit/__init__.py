"""Fitting: the task interface and problems, one fit (request, settings, engine, result) and what is built on it:
packed fits, seed ensembles, tiling, memory estimates and a whole restoration."""
