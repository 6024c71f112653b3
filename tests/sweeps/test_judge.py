"""sweeps.judge through the real openai client against a scripted local server: retries, cache, errors, no key leaks."""
import logging

import pytest

from sweeps.judge import Judge, JudgeError
from tests.sweeps.judge_stub import StubServer

KEY = "sk-test-SECRET-7f3a9c"
MSG = [{"role": "user", "content": "grade: question | answer | prediction |"}]


def make_judge(server, tmp_path, **kw):
    return Judge(model="judge-model", base_url=server.url, api_key=KEY, cache_dir=tmp_path / "cache",
                 backoff=0.01, **kw)


def test_success_sends_model_messages_and_key(tmp_path):
    with StubServer([("ok", "0.7")]) as server:
        judge = make_judge(server, tmp_path)
        assert judge.ask(MSG, "v1", float) == 0.7
    assert server.requests[0]["model"] == "judge-model"
    assert server.requests[0]["messages"] == MSG
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"


def test_429_then_success_retries(tmp_path):
    with StubServer([("status", 429), ("status", 429), ("ok", "0.3")]) as server:
        judge = make_judge(server, tmp_path)
        assert judge.ask(MSG, "v1", float) == 0.3
    assert len(server.requests) == 3 and judge.calls == 3


def test_5xx_then_success_retries(tmp_path):
    with StubServer([("status", 503), ("ok", "1.0")]) as server:
        assert make_judge(server, tmp_path).ask(MSG, "v1", float) == 1.0
    assert len(server.requests) == 2


def test_timeout_then_success(tmp_path):
    with StubServer([("sleep", 1.5, "0.1"), ("ok", "0.9")]) as server:
        judge = make_judge(server, tmp_path, timeout=0.4)
        assert judge.ask(MSG, "v1", float) == 0.9
    assert len(server.requests) == 2


def test_retries_are_bounded(tmp_path):
    with StubServer([("status", 429)]) as server:    # always 429
        judge = make_judge(server, tmp_path, max_retries=2)
        with pytest.raises(JudgeError, match="gave up after 3 attempts"):
            judge.ask(MSG, "v1", float)
    assert len(server.requests) == 3


def test_client_error_is_not_retried(tmp_path):
    with StubServer([("status", 400)]) as server:
        with pytest.raises(JudgeError, match="refused"):
            make_judge(server, tmp_path).ask(MSG, "v1", float)
    assert len(server.requests) == 1


def test_malformed_reply_is_an_error_and_not_cached(tmp_path):
    with StubServer([("ok", "banana"), ("ok", "0.5")]) as server:
        judge = make_judge(server, tmp_path)
        with pytest.raises(JudgeError, match="malformed judge reply 'banana'"):
            judge.ask(MSG, "v1", float)
        assert judge.ask(MSG, "v1", float) == 0.5      # asked again, not served a cached bad reply
    assert len(server.requests) == 2


def test_malformed_response_body_is_an_error(tmp_path):
    with StubServer([("garbage", "this is not json")]) as server:
        with pytest.raises(JudgeError):
            make_judge(server, tmp_path).ask(MSG, "v1", float)


def test_cache_hit_does_not_call_the_server(tmp_path):
    with StubServer([("ok", "0.6"), ("ok", "1.0")]) as server:
        judge = make_judge(server, tmp_path)
        assert judge.ask(MSG, "v1", float) == 0.6
        again = make_judge(server, tmp_path)               # fresh client, same cache directory
        assert again.ask(MSG, "v1", float) == 0.6
        assert len(server.requests) == 1 and again.calls == 0
        # a different prompt version, judge model or message is a different key
        assert again.ask(MSG, "v2", float) == 1.0
        other = Judge(model="other-model", base_url=server.url, api_key=KEY, cache_dir=tmp_path / "cache")
        other.ask(MSG, "v1", float)
        other.ask([{"role": "user", "content": "another prediction"}], "v1", float)
    assert len(server.requests) == 4


def test_key_never_stored_or_logged(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    with StubServer([("status", 429), ("ok", "banana"), ("ok", "0.2")]) as server:
        judge = Judge(model="judge-model", base_url=server.url, cache_dir=tmp_path / "cache", backoff=0.01)
        with pytest.raises(JudgeError) as err:
            judge.ask(MSG, "v1", float)
        assert judge.ask(MSG, "v1", float) == 0.2
    assert "retry 1/5" in caplog.text                                 # the retry was logged ...
    assert KEY not in caplog.text and KEY not in repr(judge) and KEY not in str(err.value)   # ... without the key
    for f in (tmp_path / "cache").rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f


def test_missing_key_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        Judge(base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path)


def test_judged_benchmarks_without_a_judge_record_an_error_per_sample():
    from sweeps.benchmarks import get_benchmark
    from sweeps.benchmarks.base import Sample

    for name in ("mmvet", "msvd_qa"):
        bench = get_benchmark(name)
        s = Sample(id="q1", question="What is shown?", answer="a cat", meta={"category": "rec"})
        score = bench.score(s, "a cat")
        assert score == {"error": f"{name} needs a judge: get_benchmark({name!r}, judge=Judge())", "category": "rec",
                         "rule": "llava"}   # every score dict names the rule that made it
        assert bench.aggregate([score])["n_errors"] == 1
