"""Which keyword a transformers decoder layer takes for its KV cache.

transformers 5.24 renamed the decoder layers' `past_key_values=` argument to `cache=` (the old name is
deprecated there and removed in 5.40); 4.x used `past_key_value=`. The GPU machines run 5.17, so the
keyword is read from the installed layer's signature once, never assumed from a version number.
"""
from __future__ import annotations

import inspect

CACHE_KEYWORDS = ("cache", "past_key_values", "past_key_value")  # newest first


def cache_keyword(layer) -> str:
    """The cache keyword `layer.forward` names explicitly, newest first; a clear error when it names none."""
    params = inspect.signature(layer.forward).parameters
    for name in CACHE_KEYWORDS:
        if name in params:
            return name
    raise TypeError(f"{type(layer).__name__}.forward takes none of {CACHE_KEYWORDS}; "
                    f"its parameters are {list(params)}")
