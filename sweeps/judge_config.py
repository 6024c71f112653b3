"""A benchmark's `judge:` section in a sweep config, checked statically: known keys, the key from the environment.

    benchmarks:
      - {name: mmvet, judge: {model: gpt-4o-mini, api_key_env: OPENAI_API_KEY}}

The API key is never written in a config (sweeps/secrets.py rejects `api_key`): `api_key_env` names the
environment variable that holds it on the machine running jobs/sweep.py (default OPENAI_API_KEY).
"""
from __future__ import annotations

import inspect
import os
import re
from typing import Any

from sweeps.secrets import LITERAL_KEYS, URL_PASSWORD


def judge_keys() -> tuple[str, ...]:
    """sweeps.judge.Judge's arguments a config may set (importing it does not import openai)."""
    from sweeps.judge import Judge

    return tuple(k for k in inspect.signature(Judge).parameters if k not in LITERAL_KEYS)


def judge_errors(judge: dict[str, Any], where: str) -> list[str]:
    """One line per problem of a judge mapping, each naming its key; values of secret-looking keys are never echoed."""
    valid = judge_keys()
    errors = [f"{where}.{k}: unknown judge key; valid keys: {', '.join(valid)}"
              for k in judge if k not in valid and k not in LITERAL_KEYS]
    url = judge.get("base_url")
    if isinstance(url, str) and URL_PASSWORD.search(url):   # httpx would send it as Basic auth, dropping the key
        errors.append(f"{where}.base_url: credentials in the URL would be stored and logged, and replace the API "
                      "key; give the bare URL and the key through api_key_env")
    name = judge.get("api_key_env")
    if name is None:
        return errors
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        errors.append(f"{where}.api_key_env: must name an environment variable (e.g. OPENAI_API_KEY), got {name!r}")
    elif not os.environ.get(name):
        errors.append(f"{where}.api_key_env: environment variable {name} is not set; export it where "
                      "jobs/sweep.py runs (the driver calls the judge)")
    return errors
