"""Settings.from_env: defaults, KERNELAGENT_* variables converted to each field's type, overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from kernelagent.settings import Settings


def test_no_variables_gives_the_defaults():
    assert Settings.from_env({}) == Settings()


def test_variables_are_converted_to_the_field_type():
    s = Settings.from_env(
        {
            "KERNELAGENT_PORT": "8123",
            "KERNELAGENT_JWT_LEEWAY": "0",
            "KERNELAGENT_CULL_INTERVAL": "0.25",
            "KERNELAGENT_MAX_BODY_BYTES": "1048576",
            "KERNELAGENT_WORKSPACE": "/tmp/ws",
            "KERNELAGENT_WARM_LANGUAGES": "python,go",
        }
    )
    assert s.port == 8123 and type(s.port) is int
    assert s.jwt_leeway == 0.0 and type(s.jwt_leeway) is float
    assert s.cull_interval == 0.25
    assert s.max_body_bytes == 1 << 20 and type(s.max_body_bytes) is int
    assert s.workspace == "/tmp/ws" and s.warm_languages == "python,go"
    assert s.host == Settings().host  # untouched fields keep their defaults


def test_every_field_reads_back_its_own_default():
    # a field whose type from_env cannot convert from text would come back as a str here
    env = {"KERNELAGENT_" + f.name.upper(): str(getattr(Settings(), f.name)) for f in dataclasses.fields(Settings)}
    assert Settings.from_env(env) == Settings()


def test_only_exact_upper_case_prefixed_names_are_read():
    s = Settings.from_env(
        {
            "PORT": "1",
            "kernelagent_port": "2",
            "KERNELAGENT_port": "3",
            "KERNELAGENT_NO_SUCH_SETTING": "x",
            "KERNELAGENT_": "y",
        }
    )
    assert s == Settings()


@pytest.mark.parametrize("name, raw", [("PORT", "http"), ("PORT", "80.5"), ("JWT_LEEWAY", "soon"), ("PORT", "")])
def test_unconvertible_values_are_refused(name, raw):
    with pytest.raises(ValueError):
        Settings.from_env({"KERNELAGENT_" + name: raw})


def test_overrides_beat_variables_and_none_overrides_are_ignored():
    env = {"KERNELAGENT_PORT": "8123", "KERNELAGENT_HOST": "0.0.0.0"}
    s = Settings.from_env(env, port=9000, host=None, workspace="/w")
    assert (s.port, s.host, s.workspace) == (9000, "0.0.0.0", "/w")


def test_the_process_environment_is_the_default_source(monkeypatch):
    monkeypatch.setenv("KERNELAGENT_TERMINAL_MAX", "3")
    assert Settings.from_env().terminal_max == 3


def test_bool_fields_take_the_usual_spellings():
    @dataclass
    class WithFlag(Settings):
        flag: bool = False

    for raw in ("1", "true", "TRUE", " yes ", "on"):
        assert WithFlag.from_env({"KERNELAGENT_FLAG": raw}).flag is True, raw
    for raw in ("0", "false", "no", "off", ""):
        assert WithFlag.from_env({"KERNELAGENT_FLAG": raw}).flag is False, raw


@pytest.mark.parametrize(
    "warm, expected",
    [
        ("all", ["python", "go", "bash"]),
        (" all ", ["python", "go", "bash"]),
        ("go, python", ["go", "python"]),
        ("python,ruby,,", ["python"]),
        ("", []),
    ],
)
def test_languages_warm(warm, expected):
    assert Settings(warm_languages=warm).languages_warm(["python", "go", "bash"]) == expected
