"""GPT judge for MM-Vet and the video QA benchmarks, through the real `openai` client.

    from sweeps.judge import Judge
    judge = Judge()            # OPENAI_BASE_URL, OPENAI_API_KEY, VISSWEEP_JUDGE_MODEL, VISSWEEP_JUDGE_CACHE
    judge = Judge(api_key_env="MY_KEY")   # the key from $MY_KEY (how a sweep config names it)
    bench = get_benchmark("mmvet", judge=judge)

Replies are cached on disk (SQLite) keyed by sha256(judge model, prompt version, messages): the
messages carry the question, ground truth and prediction, so a re-run never pays twice. 429s,
timeouts, connection errors and 5xx are retried with bounded exponential backoff; other API errors
and replies the benchmark cannot parse raise JudgeError, which the benchmark records as that sample's
error. The API key is held only by the client: it is never logged, cached or part of repr().
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_MODEL = "gpt-4o-mini"


def as_judge(value: "Judge | dict | bool | None") -> "Judge | None":
    """A benchmark's judge parameter: a Judge, a dict of Judge kwargs (from a sweep config), True (from env), or None."""
    if value is None or value is False or isinstance(value, Judge):
        return value or None
    if value is True:
        return Judge()
    if isinstance(value, dict):
        return Judge(**value)
    raise TypeError(f"judge must be a Judge, a dict of Judge arguments, True or None; got {type(value).__name__}")


class JudgeError(RuntimeError):
    """A judge call that gave no usable verdict (exhausted retries, refused request, malformed reply)."""


class Judge:
    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | os.PathLike | None = None, max_retries: int = 5, timeout: float = 60.0,
                 backoff: float = 1.0, max_backoff: float = 30.0, api_key_env: str | None = None):
        import openai

        self.model = model or os.environ.get("VISSWEEP_JUDGE_MODEL", DEFAULT_MODEL)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        env = api_key_env or "OPENAI_API_KEY"      # a sweep config names the variable, never the key
        key = api_key or os.environ.get(env)
        if not key:
            raise ValueError(f"judge: no API key (set {env} or pass api_key=)")
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        # retries are ours (bounded, logged without the key); the client's own are off
        self._client = openai.OpenAI(api_key=key, base_url=self.base_url, timeout=timeout, max_retries=0)
        cache_dir = Path(cache_dir or os.environ.get("VISSWEEP_JUDGE_CACHE", Path.home() / ".cache" / "vissweep" / "judge"))
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.cache_path = cache_dir / "judge.sqlite"
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, prompt_version TEXT, "
                       "request TEXT, reply TEXT, created REAL)")
        self.calls = 0            # API requests actually sent (cache hits excluded)

    def __repr__(self) -> str:
        from sweeps.secrets import redact_url

        base_url = None if self.base_url is None else redact_url(self.base_url)
        return f"Judge(model={self.model!r}, base_url={base_url!r}, cache={str(self.cache_path)!r})"

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.cache_path, timeout=30)

    def key(self, messages: list[dict[str, str]], prompt_version: str) -> str:
        blob = json.dumps({"model": self.model, "prompt_version": prompt_version, "messages": messages}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def ask(self, messages: list[dict[str, str]], prompt_version: str, parse: Callable[[str], T], max_tokens: int = 128) -> T:
        """The parsed verdict for a chat request: from the cache, else from the API (then cached if it parses)."""
        key = self.key(messages, prompt_version)
        with self._db() as db:
            hit = db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        if hit is not None:
            return parse(hit[0])
        reply = self._complete(messages, max_tokens)
        try:
            verdict = parse(reply)
        except Exception as exc:  # a reply the benchmark cannot read: not cached, so a re-run asks again
            raise JudgeError(f"malformed judge reply {reply[:200]!r}: {exc}") from exc
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?)",
                       (key, self.model, prompt_version, json.dumps(messages), reply, time.time()))
        return verdict

    def _complete(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        import openai

        retryable = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)
        for attempt in range(self.max_retries + 1):
            try:
                self.calls += 1
                resp = self._client.chat.completions.create(model=self.model, messages=messages,
                                                            temperature=0.0, max_tokens=max_tokens)
                content = resp.choices[0].message.content if resp.choices else None
                if not content:
                    raise JudgeError("judge reply had no content")
                return content
            except retryable as exc:
                if attempt == self.max_retries:
                    raise JudgeError(f"judge gave up after {attempt + 1} attempts: {type(exc).__name__}") from exc
                delay = min(self.max_backoff, self.backoff * 2 ** attempt)
                log.warning("judge %s: %s, retry %d/%d in %.2fs", self.model, type(exc).__name__, attempt + 1, self.max_retries, delay)
                time.sleep(delay)
            except openai.APIError as exc:     # 4xx other than 429: retrying will not help
                raise JudgeError(f"judge request refused: {type(exc).__name__}: {getattr(exc, 'message', '')[:200]}") from exc
            except JudgeError:
                raise
            except Exception as exc:           # a response body that is not a chat completion
                raise JudgeError(f"malformed judge response: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")


def judged(judge: "Judge | None", benchmark: str, category: Any, messages: list[dict[str, str]], prompt_version: str,
           parse: Callable[[str], T], max_tokens: int) -> "tuple[T, None] | tuple[None, dict[str, Any]]":
    """(verdict, None) from the judge, or (None, error score) when there is no judge or it fails for this sample."""
    if judge is None:
        return None, {"error": f"{benchmark} needs a judge: get_benchmark({benchmark!r}, judge=Judge())", "category": category}
    try:
        return judge.ask(messages, prompt_version, parse, max_tokens=max_tokens), None
    except JudgeError as exc:
        return None, {"error": f"judge: {exc}", "category": category}
