"""sweeps/secrets.py: which keys are secret, redaction of nested configs and of YAML text, literal keys rejected."""
import os
import textwrap

import pytest
import yaml

from sweeps.config import ConfigError, parse_config
from sweeps.secrets import REDACTED, is_secret_key, literal_secret_errors, redact, redact_text

KEY = "sk-planted-0123456789abcdef"


@pytest.mark.parametrize("key", ["api_key", "API_KEY", "apiKey", "openai_api_key", "hf_token", "HF_TOKEN",
                                 "token", "client_secret", "db-password", "passwd", "x-api-token", "keyring"])
def test_secret_looking_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["api_key_env", "token_env", "max_new_tokens", "tokens", "model", "budget",
                                 "base_url", "name", 3, None])
def test_keys_that_are_not_secrets(key):
    # *_env names a variable (kept readable); `tokens` counts model tokens
    assert not is_secret_key(key)


def test_redact_nested_keeps_everything_else():
    cfg = {"name": "s", "benchmarks": [{"name": "mmvet", "judge": {"model": "j", "api_key": KEY, "api_key_env": "K"}},
                                       "pope"],
           "extra": {"HF_TOKEN": "hf_x", "deep": [{"password": 1234}], "token": None},
           "generation": {"max_new_tokens": 16}}
    out = redact(cfg)
    assert out["benchmarks"][0]["judge"] == {"model": "j", "api_key": REDACTED, "api_key_env": "K"}
    assert out["benchmarks"][1] == "pope"
    assert out["extra"] == {"HF_TOKEN": REDACTED, "deep": [{"password": REDACTED}], "token": None}
    assert out["generation"] == {"max_new_tokens": 16}
    assert cfg["benchmarks"][0]["judge"]["api_key"] == KEY            # a copy: the input is untouched
    assert KEY not in repr(out) and "hf_x" not in repr(out) and "1234" not in repr(out)


def test_redact_text_block_flow_and_quoted_styles():
    text = textwrap.dedent(f"""\
        # python jobs/sweep.py --config x.yaml
        benchmarks:
          - {{name: mmvet, judge: {{model: j, api_key: {KEY}, base_url: http://127.0.0.1:1/v1}}}}
        extra:
          hf_token: "hf_quoted_value"
          'db_password': 's3cr3t-pw'
          keep: hf_quoted_valueX
        generation: {{max_new_tokens: 16}}
        """)
    data = yaml.safe_load(text)
    out = redact_text(text, data)
    assert KEY not in out and "hf_quoted_value\"" not in out and "s3cr3t-pw" not in out
    assert out.splitlines()[0] == "# python jobs/sweep.py --config x.yaml"          # comments and layout stay
    assert f"api_key: {REDACTED}, base_url: http://127.0.0.1:1/v1" in out
    assert f'hf_token: "{REDACTED}"' in out and f"'db_password': '{REDACTED}'" in out
    assert "max_new_tokens: 16" in out
    assert yaml.safe_load(out)["benchmarks"][0]["judge"]["api_key"] == REDACTED      # still valid YAML


def test_redact_text_leaves_short_values_elsewhere_alone():
    text = "replicas: {count: 1}\nextra: {password: 1, token_env: HF_TOKEN}\n"
    out = redact_text(text, yaml.safe_load(text))
    assert out == f"replicas: {{count: 1}}\nextra: {{password: {REDACTED}, token_env: HF_TOKEN}}\n"


def test_literal_api_key_is_rejected_with_the_fix_and_without_the_value(tmp_path, monkeypatch):
    data = {"models": ["tiny-llava"], "grid": [{"strategy": "keep_all"}],
            "benchmarks": [{"name": "mmvet", "judge": {"model": "j", "api_key": KEY}}]}
    assert literal_secret_errors(data) == [literal_secret_errors(data)[0]]
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    msg = str(e.value)
    assert "benchmarks[0].judge.api_key: a literal API key" in msg and "api_key_env: OPENAI_API_KEY" in msg
    assert KEY not in msg


def test_api_key_env_is_accepted_kept_by_name_and_checked(monkeypatch):
    data = {"models": ["tiny-llava"], "grid": [{"strategy": "keep_all"}],
            "benchmarks": [{"name": "mmvet", "judge": {"model": "j", "api_key_env": "VSW_TEST_JUDGE_KEY"}}]}
    monkeypatch.delenv("VSW_TEST_JUDGE_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"benchmarks\[0\]\.judge\.api_key_env: environment variable "
                                          r"VSW_TEST_JUDGE_KEY is not set"):
        parse_config(data)
    monkeypatch.setenv("VSW_TEST_JUDGE_KEY", KEY)
    cfg = parse_config(data, text=yaml.safe_dump(data))
    assert cfg.raw["benchmarks"][0]["judge"]["api_key_env"] == "VSW_TEST_JUDGE_KEY"
    assert "VSW_TEST_JUDGE_KEY" in cfg.text and KEY not in cfg.text and KEY not in repr(cfg)
    pw = {**data, "benchmarks": [{"name": "mmvet", "judge": {"model": "j", "base_url": "http://u:pl4nted@h:1/v1"}}]}
    with pytest.raises(ConfigError, match=r"benchmarks\[0\]\.judge\.base_url: credentials in the URL") as e:
        parse_config(pw)
    assert "pl4nted" not in str(e.value)
    bad = {**data, "benchmarks": [{"name": "mmvet", "judge": {"model": "j", "api_kye_env": "X"}}]}
    with pytest.raises(ConfigError, match=r"benchmarks\[0\]\.judge\.api_kye_env: unknown judge key"):
        parse_config(bad)


def test_judge_reads_the_named_variable(monkeypatch, tmp_path):
    from sweeps.judge import Judge

    monkeypatch.setenv("VSW_TEST_JUDGE_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    j = Judge(model="j", base_url="http://127.0.0.1:9/v1", api_key_env="VSW_TEST_JUDGE_KEY", cache_dir=tmp_path)
    assert j._client.api_key == KEY and KEY not in repr(j)
    monkeypatch.delenv("VSW_TEST_JUDGE_KEY")
    with pytest.raises(ValueError, match="set VSW_TEST_JUDGE_KEY"):
        Judge(model="j", api_key_env="VSW_TEST_JUDGE_KEY", cache_dir=tmp_path)
    assert os.environ.get("VSW_TEST_JUDGE_KEY") is None


def test_url_passwords_are_blanked_wherever_they_are():
    uri = "https://vsw:pl4nted-pw@mlflow.internal:5000/api"
    cfg = {"mlflow": {"tracking_uri": uri}, "store": "s3://bucket/results", "other": ["http://host:80/x"]}
    out = redact(cfg)
    assert out == {"mlflow": {"tracking_uri": f"https://vsw:{REDACTED}@mlflow.internal:5000/api"},
                   "store": "s3://bucket/results", "other": ["http://host:80/x"]}
    text = f"mlflow: {{tracking_uri: '{uri}'}}\n"
    assert redact_text(text, yaml.safe_load(text)) == f"mlflow: {{tracking_uri: 'https://vsw:{REDACTED}@mlflow.internal:5000/api'}}\n"
