"""docker/k8s and docker/Dockerfile: the manifests parse; the core kinds validate against the
Kubernetes schemas (kubernetes-validate bundles them: no cluster, no network); the pod inside the
agent-sandbox resources validates as a PodTemplateSpec; and what they say about the agent (its
port, the probes' paths, its environment) is what the agent really serves and reads: the routes
table and Settings, not constants copied here."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kernelagent.app import all_routes
from kernelagent.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "docker" / "k8s"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
VERSION = kubernetes_validate.latest_version()

# agent-sandbox's kinds (v0.5, v1beta1) and the spec fields their API types declare: the schema is
# the project's CRDs, which kubernetes-validate does not carry.
AGENT_SANDBOX: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    # (apiVersion, kind): (spec fields, of which required)
    ("agents.x-k8s.io/v1beta1", "Sandbox"): (
        {"podTemplate", "volumeClaimTemplates", "service", "shutdownTime", "shutdownPolicy", "operatingMode"},
        {"podTemplate"},
    ),
    ("extensions.agents.x-k8s.io/v1beta1", "SandboxTemplate"): (
        {
            "podTemplate",
            "volumeClaimTemplates",
            "service",
            "networkPolicy",
            "networkPolicyManagement",
            "envVarsInjectionPolicy",
            "volumeClaimTemplatesPolicy",
        },
        {"podTemplate"},
    ),
    ("extensions.agents.x-k8s.io/v1beta1", "SandboxWarmPool"): (
        {"replicas", "sandboxTemplateRef", "updateStrategy"},
        {"sandboxTemplateRef"},
    ),
    ("extensions.agents.x-k8s.io/v1beta1", "SandboxClaim"): (
        {"warmPoolRef", "lifecycle", "additionalPodMetadata", "env", "volumeClaimTemplates"},
        {"warmPoolRef"},
    ),
}


def load_all() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((str(path.relative_to(K8S)), doc))
    return docs


DOCS = load_all()
CORE = [(name, doc) for name, doc in DOCS if (doc["apiVersion"], doc["kind"]) not in AGENT_SANDBOX]
SANDBOX = [(name, doc) for name, doc in DOCS if (doc["apiVersion"], doc["kind"]) in AGENT_SANDBOX]


def one(kind: str) -> dict[str, Any]:
    (doc,) = [d for _, d in DOCS if d["kind"] == kind]
    return doc


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    """Every pod spec the manifests start: the plain Pod's and the SandboxTemplate's."""
    return [("Pod", one("Pod")["spec"]), ("SandboxTemplate", one("SandboxTemplate")["spec"]["podTemplate"]["spec"])]


def agent_container(spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = spec["containers"]
    return container


def container_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def open_get_paths() -> set[str]:
    """Paths the agent answers to a GET without a token (what a kubelet probe sends)."""
    return {r.path for r in all_routes() if getattr(r.handler, "open_endpoint", False) and hasattr(r.handler, "get")}


def setting_env_names() -> set[str]:
    return {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}


def test_the_manifests_parse_into_the_expected_kinds():
    kinds = sorted(d["kind"] for _, d in DOCS)
    expected = ["Pod", "Service", "NetworkPolicy", "SandboxTemplate", "SandboxWarmPool", "SandboxClaim"]
    assert kinds == sorted(expected), kinds
    for name, doc in DOCS:
        assert doc["metadata"]["name"], name


@pytest.mark.parametrize(("name", "doc"), CORE, ids=[n for n, _ in CORE])
def test_core_kinds_validate_against_the_kubernetes_schemas(name, doc):
    kubernetes_validate.validate(doc, VERSION, strict=True)


@pytest.mark.parametrize(("name", "doc"), SANDBOX, ids=[n for n, _ in SANDBOX])
def test_agent_sandbox_kinds_use_their_api_fields(name, doc):
    fields, required = AGENT_SANDBOX[(doc["apiVersion"], doc["kind"])]
    assert set(doc["spec"]) <= fields, set(doc["spec"]) - fields
    assert required <= set(doc["spec"])


def test_the_sandbox_pod_template_validates_as_a_pod_template_spec():
    template = one("SandboxTemplate")["spec"]["podTemplate"]
    # agent-sandbox's podTemplate metadata holds labels and annotations only
    assert set(template.get("metadata", {})) <= {"labels", "annotations"}
    wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
    kubernetes_validate.validate(wrapped, VERSION, strict=True)


def test_the_template_network_policy_validates_and_admits_only_the_agents_port():
    policy = one("SandboxTemplate")["spec"]["networkPolicy"]
    assert set(policy) <= {"ingress", "egress"}
    wrapped = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "t"},
        "spec": {"podSelector": {}, **policy},
    }
    kubernetes_validate.validate(wrapped, VERSION, strict=True)
    port = Settings.from_env(container_env(agent_container(pod_specs()[1][1]))).port
    for rules in (policy["ingress"], one("NetworkPolicy")["spec"]["ingress"]):
        assert rules and all(rule["from"] for rule in rules), "ingress open to every source"
        assert {p["port"] for rule in rules for p in rule["ports"]} == {port}


def test_references_between_the_manifests_resolve():
    template, pool, claim = one("SandboxTemplate"), one("SandboxWarmPool"), one("SandboxClaim")
    assert pool["spec"]["sandboxTemplateRef"]["name"] == template["metadata"]["name"]
    assert claim["spec"]["warmPoolRef"]["name"] == pool["metadata"]["name"]
    pod, service, policy = one("Pod"), one("Service"), one("NetworkPolicy")
    labels = pod["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    port_names = {p["name"] for p in agent_container(pod["spec"])["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names


def test_the_plain_pod_runs_the_same_spec_as_the_sandbox_template():
    assert one("Pod")["spec"] == one("SandboxTemplate")["spec"]["podTemplate"]["spec"]


@pytest.mark.parametrize(("where", "spec"), pod_specs(), ids=[w for w, _ in pod_specs()])
def test_port_probes_and_env_are_the_agents(where, spec):
    container = agent_container(spec)
    env = container_env(container)
    # every variable is a setting the agent reads, and the values convert as the agent converts them
    assert set(env) <= setting_env_names(), set(env) - setting_env_names()
    settings = Settings.from_env(env)
    assert settings.host == "0.0.0.0", "the agent must listen beyond the pod's loopback"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [settings.port]
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in open_get_paths(), f"{probe} probes {get['path']}, which needs a token or is no route"
        assert ports.get(get["port"], get["port"]) == settings.port
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])


@pytest.mark.parametrize(("where", "spec"), pod_specs(), ids=[w for w, _ in pod_specs()])
def test_the_jwt_public_key_comes_from_a_secret(where, spec):
    container = agent_container(spec)
    env = container_env(container)
    assert not {k for k in env if k.startswith(ENV_PREFIX + "JWT_SECRET")}, "a shared secret in a manifest"
    key_path = Path(env[ENV_PREFIX + "JWT_PUBLIC_KEY"])
    (mount,) = [m for m in container["volumeMounts"] if key_path.parent == Path(m["mountPath"])]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"]
    assert key_path.name in {item["path"] for item in volume["secret"]["items"]}


def dockerfile() -> tuple[dict[str, str], dict[str, str], str]:
    """The Dockerfile's ARG defaults, ENV values (continuation lines joined) and whole text."""
    text = DOCKERFILE.read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", joined, re.M))
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", joined, re.M):
        env.update(re.findall(r"(\w+)=(\S+)", line))
    return args, env, joined


def test_the_image_sets_only_settings_the_agent_reads_and_bakes_no_key():
    args, env, text = dockerfile()
    ours = {k for k in env if k.startswith(ENV_PREFIX)}
    assert ours <= setting_env_names(), ours - setting_env_names()
    assert not {k for k in ours if k.startswith(ENV_PREFIX + "JWT")}, "a key or secret baked into the image"
    port = Settings.from_env(env).port
    assert re.findall(r"^EXPOSE (\d+)$", text, re.M) == [str(port)]
    # the HEALTHCHECK asks an open route; the run-as user is the one the manifests name
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*$", text, re.M)
    assert any(f"{path}'" in healthcheck for path in open_get_paths())
    run_as = env[ENV_PREFIX + "RUN_AS_USER"]
    assert run_as == "${SANDBOX_USER}"
    for _, spec in pod_specs():
        assert container_env(agent_container(spec))[ENV_PREFIX + "RUN_AS_USER"] == args["SANDBOX_USER"]
