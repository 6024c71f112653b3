"""VisSweep sweeps layer: benchmarks, sweep configs, work units, results store, MLflow tracking, controller.

Never loads a model; no Ray actors are defined here (the controller drives them).
"""
