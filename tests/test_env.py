"""Global environment variables through HTTP and the hopx-ai SDK, and their reach into executions."""

from __future__ import annotations

import pytest

ENVELOPE = {"error", "message", "code", "request_id", "timestamp", "path", "details"}

# how each language prints one variable (empty line when unset); a language the agent reports
# without an entry here fails test_global_env_reaches_every_language, so none is left untested
PRINT_VAR = {
    "python": "import os; print(os.environ.get({name!r}, ''))",
    "javascript": "console.log(process.env[{name!r}] ?? '')",
    "typescript": "console.log(process.env[{name!r}] ?? '')",
    "bash": 'echo "${{{name}:-}}"',
    "go": 'fmt.Println(os.Getenv("{name}"))',
}


@pytest.fixture(autouse=True)
def clean_env(agent):
    agent.delete("/env")
    yield
    agent.delete("/env")


def stdout_of(agent, code: str, language: str = "python", **fields) -> str:
    return agent.execute(code, language=language, **fields)["stdout"].strip()


def test_put_patch_get_delete(agent):
    r = agent.http.put("/env", json={"env_vars": {"A": "1", "B": "two"}})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["env_vars"] == {"A": "1", "B": "two"} and r.json()["count"] == 2
    r = agent.http.put("/env", json={"env_vars": {"C": "3"}, "merge": True})  # PUT replaces
    assert r.json()["env_vars"] == {"C": "3"}
    r = agent.http.patch("/env", json={"env_vars": {"D": "4", "C": "33"}, "merge": True})
    assert r.json()["env_vars"] == {"C": "33", "D": "4"}
    r = agent.http.patch("/env", json={"env_vars": {"C": None}})  # null removes
    assert r.json()["env_vars"] == {"D": "4"}
    body = agent.get("/env").json()
    assert body["env_vars"] == {"D": "4"} and body["count"] == 1 and body["timestamp"].endswith("Z")
    r = agent.delete("/env/D")
    assert r.status_code == 200 and r.json()["env_vars"] == {} and r.json()["deleted"] is True
    r = agent.delete("/env/D")
    assert r.status_code == 200 and r.json()["deleted"] is False
    agent.http.patch("/env", json={"env_vars": {"X": "1", "Y": "2"}})
    r = agent.delete("/env")
    assert r.status_code == 200 and r.json()["env_vars"] == {} and r.json()["cleared"] == 2
    assert agent.get("/env").json()["env_vars"] == {}


def test_values_are_never_masked(agent):
    secrets = {"API_KEY": "sk-123", "DB_PASSWORD": "hunter2", "GITHUB_TOKEN": "ghp_x", "MY_SECRET": "s"}
    agent.http.put("/env", json={"env_vars": secrets})
    assert agent.get("/env").json()["env_vars"] == secrets


def test_env_errors(agent):
    for method, body in (("put", {}), ("patch", {"merge": True})):
        r = getattr(agent.http, method)("/env", json=body)
        assert r.status_code == 400 and r.json()["code"] == "MISSING_PARAMETER"
        assert r.json().keys() >= ENVELOPE
    for bad in (
        {"env_vars": ["A"]},
        {"env_vars": {"A": ["x"]}},
        {"env_vars": {"A=B": "x"}},
        {"env_vars": {"": "x"}},
        {"env_vars": {"A": "x\u0000y"}},
    ):
        r = agent.http.put("/env", json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["code"] == "INVALID_REQUEST"
    r = agent.http.put("/env", content=b"{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_JSON"
    assert agent.get("/env").json()["env_vars"] == {}  # nothing half-applied
    assert agent.http.get("/env", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_global_env_reaches_python_and_is_really_removed(agent):
    agent.http.patch("/env", json={"env_vars": {"KA_GLOBAL": "from-global", "KA_QUOTE": 'it\'s "quoted" $HOME'}})
    assert stdout_of(agent, PRINT_VAR["python"].format(name="KA_GLOBAL")) == "from-global"
    assert stdout_of(agent, PRINT_VAR["python"].format(name="KA_QUOTE")) == 'it\'s "quoted" $HOME'
    # request > global
    assert stdout_of(agent, PRINT_VAR["python"].format(name="KA_GLOBAL"), env={"KA_GLOBAL": "req"}) == "req"
    assert stdout_of(agent, PRINT_VAR["python"].format(name="KA_GLOBAL")) == "from-global"
    # removed: gone, not left over in the kernel
    agent.delete("/env/KA_GLOBAL")
    assert stdout_of(agent, PRINT_VAR["python"].format(name="KA_GLOBAL")) == ""
    agent.delete("/env")
    assert stdout_of(agent, PRINT_VAR["python"].format(name="KA_QUOTE")) == ""


def test_global_over_agent_env_and_back(agent):
    """global > the agent's own environment; deleting the global brings the agent's value back."""
    original = stdout_of(agent, PRINT_VAR["python"].format(name="HOME"))
    assert original
    agent.http.patch("/env", json={"env_vars": {"HOME": "/overridden"}})
    assert stdout_of(agent, PRINT_VAR["python"].format(name="HOME")) == "/overridden"
    agent.delete("/env/HOME")
    assert stdout_of(agent, PRINT_VAR["python"].format(name="HOME")) == original


def test_global_env_reaches_every_language(agent):
    languages = agent.get("/health").json()["languages"]
    assert "python" in languages
    agent.http.patch("/env", json={"env_vars": {"KA_EVERY": "everywhere"}})
    for language in languages:
        assert language in PRINT_VAR, f"add a PRINT_VAR snippet for {language}"
        assert stdout_of(agent, PRINT_VAR[language].format(name="KA_EVERY"), language) == "everywhere", language
    command = {"command": "sh", "args": ["-c", 'printf %s "${KA_EVERY:-}"']}
    assert agent.post("/commands/run", command).json()["stdout"] == "everywhere"
    agent.delete("/env/KA_EVERY")
    for language in languages:
        assert stdout_of(agent, PRINT_VAR[language].format(name="KA_EVERY"), language) == "", language
    assert agent.post("/commands/run", command).json()["stdout"] == ""


def test_sdk_env(agent, sdk):
    assert sdk.env.get_all() == {}
    assert sdk.env.set_all({"S1": "a", "S2": "b"}) == {"S1": "a", "S2": "b"}
    assert sdk.env.update({"S3": "c"}) == {"S1": "a", "S2": "b", "S3": "c"}
    assert sdk.env.set("S1", "a2")["S1"] == "a2"
    assert sdk.env.get("S2") == "b" and sdk.env.get("nope", "dflt") == "dflt"
    sdk.env.delete("S2")
    assert sdk.env.get_all() == {"S1": "a2", "S3": "c"}
    ws = str(agent.workspace)  # the SDK's default working_dir, /workspace, does not exist in tests
    code = "import os; print(os.environ.get('S3'), os.environ.get('S2'))"
    assert sdk.run_code(code, working_dir=ws).stdout.strip() == "c None"
    sdk.env.set_all({})
    assert sdk.env.get_all() == {}
    assert sdk.run_code("import os; print(os.environ.get('S3'))", working_dir=ws).stdout.strip() == "None"
