"""Settings are read from the environment and validated with errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmc_outreach.config import ConfigError, load_settings

GOOD_PRODUCTION = {
    "RMC_MODE": "production",
    "DATABASE_URL": "postgresql://rmc@db.internal/rmc",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "k" * 40,
    "PUBLIC_BASE_URL": "https://outreach.example.nhs.uk",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_CALLER_ID": "+441632960000",
}


def test_embedded_defaults_need_no_environment_at_all(tmp_path: Path) -> None:
    settings = load_settings({"RMC_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'rmc_outreach.sqlite3'}"
    assert settings.redis_url is None
    assert settings.port == 8000
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert not settings.production


def test_development_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"RMC_VAR_DIR": str(tmp_path)}).secret_key
    second = load_settings({"RMC_VAR_DIR": str(tmp_path)}).secret_key
    assert len(first) >= 32
    assert first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_plain_postgres_urls_select_the_psycopg_driver(tmp_path: Path) -> None:
    settings = load_settings(
        {"RMC_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@localhost/db"}
    )
    assert settings.database_url == "postgresql+psycopg://u@localhost/db"


def test_a_complete_production_configuration_is_accepted() -> None:
    settings = load_settings(GOOD_PRODUCTION)
    assert settings.production
    assert settings.twilio_sms_from == "+441632960000"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY is required in production"),
        ("DATABASE_URL", "DATABASE_URL must point at PostgreSQL in production"),
        ("REDIS_URL", "REDIS_URL is required in production"),
        ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN is required in production"),
        ("TWILIO_CALLER_ID", "TWILIO_CALLER_ID is required in production"),
    ],
)
def test_production_fails_closed_when_a_setting_is_missing(missing: str, message: str) -> None:
    env = {key: value for key, value in GOOD_PRODUCTION.items() if key != missing}
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {
                "RMC_VAR_DIR": str(tmp_path),
                "PORT": "eighty",
                "DATABASE_URL": "mysql://x/y",
                "TWILIO_ACCOUNT_SID": "nope",
                "TWILIO_CALLER_ID": "01632 960000",
            }
        )
    text = str(raised.value)
    assert "PORT must be a whole number, got 'eighty'" in text
    assert "DATABASE_URL must be a postgresql:// or sqlite:/// URL" in text
    assert "TWILIO_ACCOUNT_SID must be AC followed by 32 hex characters" in text
    assert "TWILIO_CALLER_ID must be an E.164 number" in text


def test_production_refuses_http_public_url_and_short_secret() -> None:
    env = dict(GOOD_PRODUCTION, PUBLIC_BASE_URL="http://outreach.example", SECRET_KEY="short")
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert "PUBLIC_BASE_URL must use https in production" in str(raised.value)
    assert "SECRET_KEY must be at least 32 characters" in str(raised.value)


def test_twilio_api_base_url_must_be_loopback_unless_allowed(tmp_path: Path) -> None:
    base = {"RMC_VAR_DIR": str(tmp_path)}
    local = load_settings(dict(base, TWILIO_API_BASE_URL="http://127.0.0.1:9000/"))
    assert local.twilio_api_base_url == "http://127.0.0.1:9000"
    with pytest.raises(ConfigError, match="must be a loopback address"):
        load_settings(dict(base, TWILIO_API_BASE_URL="http://sim.example:9000"))
    allowed = load_settings(
        dict(
            base,
            TWILIO_API_BASE_URL="http://sim.example:9000",
            TWILIO_ALLOW_REMOTE_API_BASE="true",
        )
    )
    assert allowed.twilio_api_base_url == "http://sim.example:9000"


def test_no_secret_key_file_is_written_when_the_configuration_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings({"RMC_VAR_DIR": str(tmp_path), "PORT": "0"})
    assert not (tmp_path / "secret_key").exists()


def test_the_simulated_clock_needs_redis_and_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RMC_CLOCK=simulated needs REDIS_URL"):
        load_settings({"RMC_VAR_DIR": str(tmp_path), "RMC_CLOCK": "simulated"})
    with pytest.raises(ConfigError, match="refused in production"):
        load_settings(dict(GOOD_PRODUCTION, RMC_CLOCK="simulated"))
    settings = load_settings(
        {"RMC_VAR_DIR": str(tmp_path), "RMC_CLOCK": "simulated", "REDIS_URL": "redis://h:1/0"}
    )
    assert settings.clock_mode == "simulated"


def test_trusted_proxies_default_to_none_and_accept_a_small_count(tmp_path: Path) -> None:
    base = {"RMC_VAR_DIR": str(tmp_path)}
    assert load_settings(base).trusted_proxies == 0
    assert load_settings(dict(base, RMC_TRUSTED_PROXIES="1")).trusted_proxies == 1
    assert load_settings(dict(GOOD_PRODUCTION, RMC_TRUSTED_PROXIES="2")).trusted_proxies == 2


@pytest.mark.parametrize("raw", ["-1", "one", "6", "1.5"])
def test_a_bad_trusted_proxies_count_is_named(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="RMC_TRUSTED_PROXIES must be a whole number from 0 to 5"):
        load_settings({"RMC_VAR_DIR": str(tmp_path), "RMC_TRUSTED_PROXIES": raw})
