"""One paper per file. A strategy is a frozen dataclass: tensors in (VisionTokens), Selection out; torch only."""
