"""Secrets never persist: the one redaction used by every writer of config values (store, MLflow, logs).

    from sweeps.secrets import redact, redact_text, literal_secret_errors

A config key looks secret when one of its words contains `key`, `token`, `secret` or `password`
(case-insensitive: `api_key`, `apiKey`, `HF_TOKEN`, `db-password`). Two kinds of key are not secret:
- `*_env` keys (`api_key_env: OPENAI_API_KEY`): the value names an environment variable, it is not
  the secret, and it must stay readable so that a rerun knows where the key comes from;
- the plural `tokens` (`max_new_tokens: 16`): a count of model tokens, not an auth token.
A password inside a URL (`https://user:password@host`, any key) is blanked too.
Judge keys come from the environment only: a literal `api_key` in a config is a validation error.
"""
from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"                          # a plain YAML scalar: redacted text still parses
SECRET_WORDS = ("key", "token", "secret", "password", "passwd")
MIN_LOOSE = 8                                    # redact_text's fallback replaces values at least this long
LITERAL_KEYS = frozenset({"api_key"})            # rejected at validation: name a variable with api_key_env
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s/@]+@", re.IGNORECASE)   # scheme://user:PASSWORD@


def redact_url(text: str) -> str:
    """The password of any `scheme://user:password@host` in a string blanked (e.g. an MLflow tracking URI)."""
    return URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)     # apiKey -> api Key
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def is_secret_key(key: Any) -> bool:
    """Does a config key name a secret value? (`api_key` yes, `api_key_env` and `max_new_tokens` no.)"""
    if not isinstance(key, str):
        return False
    words = _words(key)
    if words and words[-1] == "env":
        return False
    return any(s in w for w in words if w != "tokens" for s in SECRET_WORDS)


def redact(value: Any) -> Any:
    """A copy of a nested config (dicts, lists, tuples) with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_key(k) and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return redact_url(value) if isinstance(value, str) else value


def secret_values(value: Any) -> list[tuple[str, str]]:
    """(key, value as text) of every secret-looking key in a nested config, the longest values first."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if is_secret_key(k) and v is not None and not isinstance(v, (dict, list)):
                out.append((str(k), str(v)))
            else:
                out += secret_values(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            out += secret_values(v)
    return sorted(out, key=lambda kv: -len(kv[1]))


def redact_text(text: str, data: Any) -> str:
    """The config's YAML text with the values of its secret-looking keys (as parsed into `data`) blanked.

    Block (`key: v`) and flow (`{key: v}`) styles, quoted or not, keep their layout and comments; a value
    still present after that (written escaped), if at least MIN_LOOSE characters long, is replaced
    wherever it occurs.
    """
    text = redact_url(text)
    for key, val in secret_values(data):
        pattern = re.compile(rf"({re.escape(key)}['\"]?\s*:\s*)(['\"]?){re.escape(val)}\2")
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}", text)
        if len(val) >= MIN_LOOSE and val in text:   # short values would hit unrelated text (`count: 1`)
            text = text.replace(val, REDACTED)
    return text


def literal_secret_errors(data: Any, where: str = "") -> list[str]:
    """Validation errors for literal API keys anywhere in a config, each naming its key path and the fix."""
    errors: list[str] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        path = f"{where}[{k}]" if isinstance(k, int) else f"{where}.{k}" if where else str(k)
        if isinstance(k, str) and k in LITERAL_KEYS:
            errors.append(f"{path}: a literal API key would be stored with the results and in MLflow; put it in "
                          f"the environment and name the variable instead, e.g. {k}_env: OPENAI_API_KEY")
        else:
            errors += literal_secret_errors(v, path)
    return errors
