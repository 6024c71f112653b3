"""VisSweep pruning layer: visual-token pruning strategies, model adapters and compute accounting.

No Ray, no MLflow. Public surface: get_strategy, VisionTokens, Selection, PrunePlan, STRATEGIES.
"""
from pruning.registry import STRATEGIES, get_strategy
from pruning.types import Output, PrunePlan, Selection, Stage, VisionTokens

__all__ = ["STRATEGIES", "get_strategy", "Output", "PrunePlan", "Selection", "Stage", "VisionTokens"]
