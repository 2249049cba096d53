"""`reboot-harness init --from COMPOSE_FILE`: a topology the harness's loader reads (one host per
service, its daemons, its role from its software, every role key stated) and the boot model as a
compose override that the harness's compose safety rules pass; the user's file only read. No
engine: DOCKER_HOST points nowhere (`docker compose config` needs none)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.adopt import ImageCommands, ImageLookup, adopt, write
from reboot_harness.inputs.compose.boot import boot_model
from reboot_harness.inputs.compose.services import read_services
from reboot_harness.inputs.paths import default_compose_dir
from reboot_harness.inputs.topology import load_topology
from reboot_harness.model.topology import HostCheck, Topology

DATA = Path(__file__).parent / "data" / "compose"
EXAMPLES = {
    "webapp": DATA / "webapp" / "docker-compose.yml",
    "queue": DATA / "queue" / "docker-compose.yml",
    "cache": DATA / "cache" / "compose.yaml",
    "shared": DATA / "shared" / "docker-compose.yml",
}
ROLES = ("dns_host", "lbs", "apps", "redis_hosts", "mysql_hosts", "postgres_hosts",
         "graphite_host")  # fmt: skip


def no_engine(names: Sequence[str]) -> ImageCommands:
    return {}


def init(
    source: Path, out: Path, images: ImageLookup = no_engine, force: bool = False
) -> tuple[Topology, Path]:
    boot = boot_model(default_compose_dir())
    adoption = adopt(read_services(source), boot, images)
    override = write(adoption, boot, out, force=force)
    return load_topology(out), override


def test_a_gunicorn_nginx_postgres_app(tmp_path: Path) -> None:
    """nginx is a load balancer, gunicorn (past `sh -c "migrate && ..."`) the web host's daemon,
    PostgreSQL a postgres host; the image's software gives its daemon."""
    topo, _override = init(EXAMPLES["webapp"], tmp_path / "topology.yaml")
    assert dict(topo.daemons) == {"nginx": ("nginx",), "web": ("gunicorn",), "db": ("postgres",)}
    assert (topo.lbs, topo.apps, topo.redis_hosts, topo.mysql_hosts) == (("nginx",), (), (), ())
    assert (topo.dns_host, topo.graphite_host) == ("", "")
    assert topo.postgres_hosts == ("db",)
    text = (tmp_path / "topology.yaml").read_text()
    assert 'postgres_hosts: ["db"]' in text and "no role key" not in text


def test_every_role_key_is_stated_even_empty(tmp_path: Path) -> None:
    """The topology says every role, so it means the same whatever the harness's defaults."""
    init(EXAMPLES["cache"], tmp_path / "t.yaml")
    written = yaml.safe_load((tmp_path / "t.yaml").read_text())
    assert {k: written[k] for k in ROLES} == {
        "dns_host": "", "lbs": [], "apps": [], "redis_hosts": [], "mysql_hosts": [],
        "postgres_hosts": [], "graphite_host": "",
    }  # fmt: skip


def test_a_redis_queue_with_workers(tmp_path: Path) -> None:
    """Redis is a redis host; a worker behind `tini --` runs rq; one running its image's command
    with no engine to ask is left empty, with one line saying so."""
    boot = boot_model(default_compose_dir())
    adoption = adopt(read_services(EXAMPLES["queue"]), boot, no_engine)
    topo, _ = init(EXAMPLES["queue"], tmp_path / "t.yaml")
    assert topo.redis_hosts == ("redis",)
    assert dict(topo.daemons) == {
        "redis": ("redis-server",), "api": ("uvicorn",), "worker1": ("rq",), "worker2": (),
    }  # fmt: skip
    assert [n for n in adoption.notes if n.startswith("worker2:")] == [
        "worker2: daemons not known: no command, and its image"
        " registry.example.com/jobs/worker:1.4 could not be inspected: no engine answered, or it"
        " lacks the image (pull it, run init again); fill in daemons.worker2"
    ]
    assert "# fill in: no command" in (tmp_path / "t.yaml").read_text()


def test_the_image_command_is_asked_of_the_engine_when_the_service_has_none(
    tmp_path: Path,
) -> None:
    """A service without command or entrypoint runs its image's: asked once, for those only."""
    asked: list[list[str]] = []

    def engine(names: Sequence[str]) -> ImageCommands:
        asked.append(list(names))
        return {"registry.example.com/jobs/worker:1.4": (("/usr/bin/tini", "--"), ("rq", "worker"))}

    topo, _ = init(EXAMPLES["queue"], tmp_path / "t.yaml", images=engine)
    assert topo.daemons["worker2"] == ("rq",)
    assert asked == [["registry.example.com/jobs/worker:1.4"]]


def test_memcached_gets_declared_process_and_port_checks(tmp_path: Path) -> None:
    """memcached has no role: its host gets declared host checks, its process and its port
    (`-p` of its command); every service with a healthcheck gets it checked, and every port
    a service serves is tried from a peer (the first other service)."""
    topo, _ = init(EXAMPLES["cache"], tmp_path / "t.yaml")
    assert topo.host_checks == (
        HostCheck("host", "memcached", "process", "memcached"),
        HostCheck("host", "memcached", "port", "11311"),
        HostCheck("host", "memcached", "healthcheck", ""),
        HostCheck("host", "memcached", "port", "11311", peer="php"),
        HostCheck("host", "php", "healthcheck", ""),
    )
    assert topo.daemons["php"] == ()


def test_anchors_and_extends_give_mysql_dns_and_graphite_roles(tmp_path: Path) -> None:
    """Services built from anchors and extends: MariaDB hosts, dnsmasq the DNS host, carbon
    the graphite host."""
    topo, _ = init(EXAMPLES["shared"], tmp_path / "t.yaml")
    assert topo.mysql_hosts == ("db1", "db2")
    assert (topo.dns_host, topo.graphite_host) == ("dns", "metrics")
    assert topo.daemons["db1"] == ("mariadbd",) and topo.daemons["metrics"] == ("carbon-cache",)


def resolved(tmp_path: Path, files: list[Path]) -> dict[str, object]:
    """Compose's resolution of ``files`` alone (an empty harness stack under them)."""
    from reboot_harness.inputs.compose.offline import resolve_offline

    harness = tmp_path / "harness"
    harness.mkdir(exist_ok=True)
    (harness / "stack.yaml").write_text("services: {}\n", encoding="utf-8")
    return resolve_offline(files, compose_dir=harness)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_override_gives_every_service_the_boot_model(tmp_path: Path, name: str) -> None:
    """The user's file with the override over it passes the harness's compose rules (tmpfs
    /run, the boot nofile limit, no restart policy, ports on 127.0.0.1), which the file alone
    does not."""
    from reboot_harness.inputs.compose.roots import Roots
    from reboot_harness.inputs.compose.rules import unsafe

    source = EXAMPLES[name]
    before = source.read_bytes()
    _topo, override = init(source, tmp_path / "out" / "t.yaml")
    assert override == tmp_path / "out" / "t.compose-override.yaml"
    files = [source, override]
    harness = tmp_path / "harness"
    config = resolved(tmp_path, files)
    assert unsafe(config, roots=Roots.of(files, harness, "")) == []
    assert unsafe(resolved(tmp_path, [source]), roots=Roots.of([source], harness, ""))
    services = config["services"]
    assert isinstance(services, dict)
    for svc in services.values():
        assert svc["ulimits"]["nofile"] == {"soft": 1024, "hard": 16384}
        assert "/run" in svc["tmpfs"] and svc["restart"] == "no"
        assert all(port["host_ip"] == "127.0.0.1" for port in svc.get("ports", []))
    assert source.read_bytes() == before


def test_a_volume_at_run_is_left_out_for_the_boot_tmpfs(tmp_path: Path) -> None:
    """A service mounting a volume at /run would not start with the boot's tmpfs there: the
    override keeps its other mounts (binds pointing at the compose file's folder) and says so."""
    project = tmp_path / "project"
    (project / "conf").mkdir(parents=True)
    source = project / "docker-compose.yml"
    source.write_text(
        "services:\n  app:\n    image: debian:12\n    command: sleep infinity\n"
        "    tmpfs: ['/run:size=64m', /var/cache/app]\n"
        "    volumes: ['run:/run', './conf:/etc/app:ro', 'data:/srv']\n"
        "volumes: {run: {}, data: {}}\n",
        encoding="utf-8",
    )
    boot = boot_model(default_compose_dir())
    adoption = adopt(read_services(source), boot, no_engine)
    assert adoption.notes == (
        "app: what it mounts at /run is left out in the override: the boot model mounts an"
        " empty tmpfs there",
    )
    write(adoption, boot, tmp_path / "elsewhere" / "t.yaml", force=False)
    override = tmp_path / "elsewhere" / "t.compose-override.yaml"
    config = resolved(tmp_path, [source, override])
    svc = config["services"]["app"]  # type: ignore[index]
    assert [(v["source"], v["target"]) for v in svc["volumes"]] == [
        (str(project / "conf"), "/etc/app"), ("data", "/srv"),
    ]  # fmt: skip
    assert svc["tmpfs"] == ["/var/cache/app", "/run", "/tmp:exec,mode=1777"]


def test_ports_beyond_the_loopback_address_are_moved_to_it(tmp_path: Path) -> None:
    """Ports on every address (short and long syntax, a variable's port) move to 127.0.0.1;
    those on a loopback address stay as they are."""
    source = tmp_path / "docker-compose.yml"
    source.write_text(
        "services:\n  web:\n    image: nginx\n    ports:\n"
        "      - '[::1]:8082:82'\n      - 127.0.0.2:8083:83\n      - 8084:84/udp\n"
        "      - '0.0.0.0:${PORT:-8085}:85'\n      - '86'\n"
        "      - {target: 87, published: 8087}\n",
        encoding="utf-8",
    )
    _topo, override = init(source, tmp_path / "t.yaml")
    ports = resolved(tmp_path, [source, override])["services"]["web"]["ports"]  # type: ignore[index]
    assert [(p["host_ip"], p.get("published"), p["target"]) for p in ports] == [
        ("::1", "8082", 82), ("127.0.0.2", "8083", 83), ("127.0.0.1", "8084", 84),
        ("127.0.0.1", "8085", 85), ("127.0.0.1", None, 86), ("127.0.0.1", "8087", 87),
    ]  # fmt: skip


def test_files_already_there_are_kept_unless_forced(tmp_path: Path) -> None:
    """init never overwrites a topology or override without --force (one line, exit 2 at the
    command line); with it, both are written again."""
    out = tmp_path / "t.yaml"
    override = tmp_path / "t.compose-override.yaml"
    override.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"t.compose-override.yaml: already exists; pass --force"):
        init(EXAMPLES["cache"], out)
    assert not out.exists() and override.read_text() == "# mine\n"
    init(EXAMPLES["cache"], out, force=True)
    assert override.read_text() != "# mine\n"


def rh(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    return subprocess.run(
        [sys.executable, "-m", "reboot_harness", *args],
        capture_output=True, text=True, env=env, timeout=60, cwd=cwd,
    )  # fmt: skip


def test_init_on_the_command_line(tmp_path: Path) -> None:
    """`init --from FILE` writes topology.yaml and its override in the current folder, says what
    it recognised and what to fill in, exit 0; again without --force: exit 2, one line."""
    done = rh("init", "--from", str(EXAMPLES["queue"]), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"wrote topology.yaml (4 hosts; redis_hosts: redis; 6 host checks) and"
        " topology.compose-override.yaml"
        f" (the boot model, over {EXAMPLES['queue']})"
    )
    assert lines[1].startswith("worker2: daemons not known: ")
    load_topology(tmp_path / "topology.yaml")
    again = rh("init", "--from", str(EXAMPLES["queue"]), cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "reboot-harness init: topology.yaml: already exists; pass --force to overwrite it, or"
        " --out another file"
    )
    bad = rh("init", "--from", str(tmp_path / "topology.yaml"), "--out", "x.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and "not a compose file: no services" in bad.stderr
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(
    ("argv", "daemon"),
    [
        (["/usr/local/bin/gunicorn", "app:app"], "gunicorn"),
        (["exec", "nice", "-n", "5", "celery", "-A", "proj", "worker"], ""),
        (["exec", "celery", "-A", "proj", "worker"], "celery"),
        (["gosu", "redis", "redis-server", "--port", "6380"], "redis-server"),
        (["env", "A=1", "-u", "B", "node", "server.js"], "node"),
        (["dumb-init", "--single-child", "--", "php-fpm", "-F"], "php-fpm"),
        (["docker-entrypoint.sh", "postgres", "-c", "max_connections=200"], "postgres"),
        (["sh", "-c", "python manage.py migrate && exec gunicorn app"], "gunicorn"),
        (["bash", "-c", "sleep 1; memcached -u memcache"], "memcached"),
        (["--appendonly", "yes"], ""),
        (["sh", "-c", "while true; do ./poll; sleep 5; done"], ""),
        (["bash", "-c", "nginx & php-fpm & wait"], ""),
        ([], ""),
    ],
)
def test_the_program_a_command_runs_is_found_past_its_wrappers(
    argv: list[str], daemon: str
) -> None:
    """exec, gosu USER, env A=B, an init's options and `--`, an entrypoint script and a shell's
    last command all run the program that follows; an option alone names none (nor does `nice
    -n 5`, whose option takes a value: left for the user rather than guessed)."""
    from reboot_harness.inputs.compose.services import program

    assert program(argv) == daemon


def test_images_are_inspected_only_when_the_engine_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine is pinged first (nothing asked when it does not answer); an image it lacks is
    left out, never pulled."""
    from docker.errors import ImageNotFound

    from reboot_harness.stack import engines, images

    asked: list[str] = []

    class Images:
        def get(self, name: str) -> object:
            asked.append(name)
            if name != "have:1":
                raise ImageNotFound(name)
            return type("Image", (), {"attrs": {"Config": {"Entrypoint": None, "Cmd": ["rq"]}}})

    fake = type("Client", (), {"images": Images()})()
    monkeypatch.setattr(images, "client", lambda: fake)
    monkeypatch.setattr(engines, "answers", lambda engine, timeout: False)
    assert images.image_commands(["have:1"]) == {}
    assert asked == []
    monkeypatch.setattr(engines, "answers", lambda engine, timeout: True)
    assert images.image_commands(["have:1", "lack:2"]) == {"have:1": ((), ("rq",))}
    assert asked == ["have:1", "lack:2"]


def test_the_boot_model_is_the_one_the_shipped_stack_states(tmp_path: Path) -> None:
    """init applies what every shipped host gets (stack.yaml's x-host), read from there; a
    stack.yaml that does not state it is one line naming the file and key."""
    from reboot_harness.inputs.compose.boot import BootModel

    shipped = boot_model(default_compose_dir())
    assert shipped == BootModel(("/run", "/tmp:exec,mode=1777"), 1024, 16384, "no")
    assert shipped.tmpfs_paths == ("/run", "/tmp")
    (tmp_path / "stack.yaml").write_text("services: {}\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"stack.yaml: x-host: expected the boot model"):
        boot_model(tmp_path)


@pytest.mark.parametrize(
    ("service", "why"),
    [
        ("{build: ., command: ['${APP}']}", "its command runs '${APP}', not a program name"),
        ("{image: example/app:1, command: ['--workers', '4']}",
         "its command only passes options to its image's entrypoint"),
        ("{build: .}", "no command and no image (built here): its Dockerfile's CMD is not read"),
    ],
)  # fmt: skip
def test_each_service_whose_daemon_cannot_be_told_says_why(
    tmp_path: Path, service: str, why: str
) -> None:
    """A daemon is never guessed: the service is left empty in the topology, with one line."""
    source = tmp_path / "docker-compose.yml"
    source.write_text(f"services:\n  app: {service}\n", encoding="utf-8")
    adoption = adopt(read_services(source), boot_model(default_compose_dir()), no_engine)
    assert adoption.hosts[0].daemons == ()
    assert adoption.notes == (f"app: daemons not known: {why}; fill in daemons.app",)


def test_a_second_dns_server_is_not_the_dns_host(tmp_path: Path) -> None:
    """dns_host and graphite_host name one host: the first service of that software; another
    one is said in a line, and is a host with its daemons all the same."""
    source = tmp_path / "docker-compose.yml"
    source.write_text(
        "services:\n  ns1: {image: x, command: dnsmasq -k}\n"
        "  ns2: {image: x, command: dnsmasq -k}\n",
        encoding="utf-8",
    )
    topo, _ = init(source, tmp_path / "t.yaml")
    assert topo.dns_host == "ns1" and topo.daemons["ns2"] == ("dnsmasq",)
    boot = boot_model(default_compose_dir())
    assert adopt(read_services(source), boot, no_engine).notes == (
        "ns2: dnsmasq, but dns_host is ns1 already (one host)",
    )


def test_the_ports_a_service_serves_are_read_from_ports_and_expose() -> None:
    """The container side of `ports` (short and long syntax, with a host address or not) and
    every `expose`, TCP only, each once; ranges and variables are not ports to try."""
    from reboot_harness.inputs.compose.services import Service, served_ports

    settings = {
        "ports": [
            "8080:80", "127.0.0.1:8443:443/tcp", "5353:53/udp", "9000", "[::1]:7000:7001",
            "8000-8010:8000-8010", "${PORT}:81", {"target": 5432, "published": 15432},
            {"target": 514, "protocol": "udp"}, "8081:80",
        ],
        "expose": ["3000", 3001, "3002/udp", "80"],
    }  # fmt: skip
    svc = Service("web", Path("docker-compose.yml"), settings)
    assert served_ports(svc) == (80, 443, 9000, 7001, 81, 5432, 3000, 3001)
    assert served_ports(Service("none", Path("x.yml"), {})) == ()


def test_sentinels_on_services_of_their_own_are_sentinels_not_redis_servers(
    tmp_path: Path,
) -> None:
    """A sentinel in its own service is no redis server (`redis roles` would ask it for INFO
    replication): it is a host whose daemon is redis-sentinel, and the check asks it as one."""
    source = tmp_path / "docker-compose.yml"
    source.write_text(
        "services:\n"
        "  r1: {image: 'redis:7.2', command: [redis-server, --appendonly, 'yes']}\n"
        "  r2: {image: 'redis:7.2', command: [redis-server, --replicaof, r1, '6379']}\n"
        "  s1: {image: 'redis:7.2', command: [redis-sentinel, /etc/redis/sentinel.conf]}\n"
    )
    topo, _ = init(source, tmp_path / "topology.yaml")
    assert (topo.redis_hosts, topo.sentinel_hosts) == (("r1", "r2"), ("s1",))
    assert dict(topo.daemons)["s1"] == ("redis-sentinel",)
