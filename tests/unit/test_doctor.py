"""`reboot-harness doctor COMPOSE_FILE`: each rule names what in a user's compose file makes a
container not behave like a server across a reboot (file:service:key, code, fix), and stays
silent on the fixed file; exit 0 / 1 / 2 and --json. No engine: DOCKER_HOST points nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.boot import boot_model
from reboot_harness.inputs.compose.doctor import diagnose
from reboot_harness.inputs.compose.services import read_services
from reboot_harness.inputs.paths import default_compose_dir
from reboot_harness.model.findings import CODES, Finding, codes_help

DATA = Path(__file__).parent / "data" / "compose"
HEALTHY = "    healthcheck: {test: [CMD, 'true']}\n"


def doctor(tmp_path: Path, text: str, name: str = "docker-compose.yml") -> list[Finding]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return list(diagnose(read_services(path), boot_model(default_compose_dir())))


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def one(image: str, *settings: str, command: str = "") -> str:
    """A compose file of one service ``svc`` with a healthcheck and ``settings`` lines."""
    lines = [f"    image: {image}\n", HEALTHY, *(f"    {s}\n" for s in settings)]
    if command:
        lines.append(f"    command: {command}\n")
    return "services:\n  svc:\n" + "".join(lines)


# (what the service says, the code it is named by, the key) / the same service fixed
RULES = {
    "restart-always": (["restart: always"], "restart-policy", "restart"),
    "restart-unless-stopped": (["restart: unless-stopped"], "restart-policy", "restart"),
    "restart-on-failure": (["restart: on-failure:3"], "restart-policy", "restart"),
    "deploy-restart-default": (
        ["deploy: {restart_policy: {max_attempts: 3}}"],
        "restart-policy",
        "deploy.restart_policy",
    ),
    "run-on-named-volume": (["volumes: [pids:/run]"], "run-on-volume", "volumes"),
    "var-run-bind": (["volumes: ['./pids:/var/run/app']"], "run-on-volume", "volumes"),
    "run-long-syntax": (
        ["volumes: [{type: bind, source: ./x, target: /run/nginx}]"],
        "run-on-volume",
        "volumes",
    ),
    "anonymous-short": (["volumes: [/var/lib/app]"], "anonymous-volume", "volumes"),
    "anonymous-long": (
        ["volumes: [{type: volume, target: /var/lib/app}]"],
        "anonymous-volume",
        "volumes",
    ),
    "port-short": (["ports: ['8080:80']"], "port-every-address", "ports"),
    "port-random": (["ports: ['80']"], "port-every-address", "ports"),
    "port-zeros": (["ports: ['0.0.0.0:8080:80']"], "port-every-address", "ports"),
    "port-long": (["ports: [{target: 80, published: 8080}]"], "port-every-address", "ports"),
}
FIXED = {
    "restart-no": ['restart: "no"'],
    "deploy-restart-none": ["deploy: {restart_policy: {condition: none}}"],
    "run-on-tmpfs": ["tmpfs: [/run]", "volumes: [{type: tmpfs, target: /var/run/app}]"],
    "pid-dir-on-disk": ["volumes: ['data:/var/lib/app/pids']"],
    "docker-socket": ["volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro']"],
    "named-volume": ["volumes: ['data:/var/lib/app', './conf:/etc/app:ro']"],
    "port-loopback": ["ports: ['127.0.0.1:8080:80', '127.0.0.1::81', '[::1]:8082:82']"],
    "port-long-loopback": ["ports: [{target: 80, published: 8080, host_ip: 127.0.0.1}]"],
    "expose-only": ["expose: ['80']"],
}


@pytest.mark.parametrize("case", sorted(RULES))
def test_each_rule_names_file_service_key_and_the_fix(tmp_path: Path, case: str) -> None:
    """A setting that does not boot like a server is one finding: where (file:service:key),
    its code and a fix; one line."""
    settings, code, key = RULES[case]
    findings = doctor(tmp_path, one("debian:12", *settings))
    assert codes(findings) == [code]
    finding = findings[0]
    assert finding.where == f"{tmp_path / 'docker-compose.yml'}:svc:{key}"
    assert finding.fix
    assert finding.line().startswith(f"{finding.where}: {code}: ")
    assert "\n" not in finding.line()


@pytest.mark.parametrize("case", sorted(FIXED))
def test_the_fixed_service_has_no_finding(tmp_path: Path, case: str) -> None:
    """Named volumes, tmpfs at /run, a pid directory on disk (on disk on a server too), the
    Docker socket, loopback ports and no restart policy are what a server does: no finding."""
    assert doctor(tmp_path, one("debian:12", *FIXED[case])) == []


def test_no_healthcheck_is_a_finding_and_a_disabled_one_too(tmp_path: Path) -> None:
    """A service without a healthcheck, or with it disabled, cannot tell up from serving."""
    text = (
        "services:\n  a: {image: x}\n  b: {image: x, healthcheck: {disable: true}}\n"
        "  c: {image: x, healthcheck: {test: [NONE]}}\n"
        "  d: {image: x, healthcheck: {test: 'curl -f http://localhost/'}}\n"
    )
    findings = doctor(tmp_path, text)
    assert [(f.service, f.code, f.key) for f in findings] == [
        (s, "no-healthcheck", "healthcheck") for s in "abc"
    ]


NGINX_CONF = "events {\n    worker_connections 8192;\n}\n"


@pytest.mark.parametrize(
    ("image", "settings", "files", "command", "needs"),
    [
        ("nginx:1.25", ["volumes: ['./nginx.conf:/etc/nginx/nginx.conf:ro']"],
         {"nginx.conf": NGINX_CONF}, "", "8192"),
        ("nginx:1.25", ["volumes: ['./conf:/etc/nginx:ro']"],
         {"conf/nginx.conf": "events { worker_connections 4096; }"}, "", "4096"),
        ("redis:7", [], {}, "redis-server --maxclients 20000", "20032"),
        ("redis:7", ["volumes: ['./redis.conf:/usr/local/etc/redis/redis.conf']"],
         {"redis.conf": "maxclients 30000\n"}, "redis-server /usr/local/etc/redis/redis.conf",
         "30032"),
        ("redis:7", [], {}, "['--maxclients', '20000']", "20032"),
        ("mariadb:11", [], {}, "--open-files-limit=40000", "40000"),
        ("mysql:8", ["volumes: ['./my.cnf:/etc/mysql/conf.d/my.cnf:ro']"],
         {"my.cnf": "[mysqld]\nopen_files_limit = 50000\n"}, "", "50000"),
        ("memcached:1.6", [], {}, "memcached -m 64 -c 20000", "20000"),
        ("memcached:1.6", [], {}, "memcached --conn-limit=20000", "20000"),
    ],
)  # fmt: skip
def test_a_limit_only_ulimits_give_is_named(
    tmp_path: Path, image: str, settings: list[str], files: dict[str, str], command: str,
    needs: str,
) -> None:  # fmt: skip
    """A service whose own configuration (its command, the files it bind-mounts) asks for more
    open files than a server's boot gives it, and gets them only from ulimits: nofile."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    findings = doctor(tmp_path, one(image, "ulimits: {nofile: 65536}", *settings, command=command))
    assert codes(findings) == ["limit-from-ulimits"]
    assert findings[0].key == "ulimits.nofile"
    assert f"needs {needs} open files" in findings[0].message


@pytest.mark.parametrize(
    ("image", "settings", "files", "command"),
    [
        # no ulimits: nothing gives it more here than there
        ("redis:7", [], {}, "redis-server --maxclients 20000"),
        # nginx raising its own limit, or a config that asks for what the boot gives
        ("nginx:1.25", ["ulimits: {nofile: 65536}",
                        "volumes: ['./nginx.conf:/etc/nginx/nginx.conf:ro']"],
         {"nginx.conf": "worker_rlimit_nofile 16384;\nevents { worker_connections 8192; }\n"}, ""),
        ("nginx:1.25", ["ulimits: {nofile: 65536}",
                        "volumes: ['./nginx.conf:/etc/nginx/nginx.conf:ro']"],
         {"nginx.conf": "events { worker_connections 768; }\n"}, ""),
        # nginx whose configuration is not read: nothing observed
        ("nginx:1.25", ["ulimits: {nofile: 65536}"], {}, ""),
        # the defaults fit a server's boot: Redis 10032, memcached 1024 (hard 16384)
        ("redis:7", ["ulimits: {nofile: 65536}"], {}, ""),
        ("memcached:1.6", ["ulimits: {nofile: 65536}"], {}, "memcached -m 64"),
        # what it asks for, the ulimits do not give either: another problem than this one
        ("memcached:1.6", ["ulimits: {nofile: {soft: 8192, hard: 8192}}"], {},
         "memcached -c 20000"),
        # another program on the image of a known software (a worker on `redis`)
        ("redis:7", ["ulimits: {nofile: 65536}"], {}, "rq worker --url redis://q"),
        ("mariadb:11", ["ulimits: {nofile: 65536}"], {}, ""),
    ],
)  # fmt: skip
def test_a_limit_the_boot_gives_or_the_service_raises_is_not_named(
    tmp_path: Path, image: str, settings: list[str], files: dict[str, str], command: str
) -> None:
    """No finding without both halves observed: what it asks for beyond the boot's limit, and
    ulimits that give it."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert doctor(tmp_path, one(image, *settings, command=command)) == []


def test_anchors_merge_keys_and_extends_are_applied_as_compose_applies_them() -> None:
    """A setting from an anchor, a merge key or a service extended (in the file or another) is
    named on the service that gets it; `!reset` removes what extends gave."""
    findings = diagnose(
        read_services(DATA / "shared" / "docker-compose.yml"), boot_model(default_compose_dir())
    )
    got = {(f.service, f.code) for f in findings}
    assert ("db1", "restart-policy") in got  # from common.yml through extends
    assert ("db2", "restart-policy") not in got  # its own restart: "no" wins
    assert ("metrics", "restart-policy") not in got  # !reset
    assert ("db1", "limit-from-ulimits") in got  # command from the anchor, ulimits from extends
    assert ("db1", "run-on-volume") in got and ("db2", "anonymous-volume") in got
    assert ("dns", "port-every-address") in got
    assert not any(s == "metrics" for s, _ in got)


def test_the_example_stacks_as_their_teams_wrote_them() -> None:
    """Each example compose file gives the findings its team would need to fix."""
    boot = boot_model(default_compose_dir())

    def found(name: str) -> set[tuple[str, str]]:
        return {(f.service, f.code) for f in diagnose(read_services(DATA / name), boot)}

    assert found("webapp/docker-compose.yml") == {
        ("nginx", "restart-policy"), ("nginx", "no-healthcheck"),
        ("nginx", "port-every-address"), ("nginx", "limit-from-ulimits"),
        ("web", "restart-policy"), ("web", "run-on-volume"),
        ("db", "restart-policy"), ("db", "anonymous-volume"), ("db", "port-every-address"),
    }  # fmt: skip
    assert found("queue/docker-compose.yml") == {
        ("redis", "restart-policy"), ("redis", "limit-from-ulimits"),
        ("api", "port-every-address"), ("worker1", "restart-policy"),
        ("worker2", "restart-policy"),
    }  # fmt: skip
    assert found("cache/compose.yaml") == {("memcached", "limit-from-ulimits")}


def test_services_of_an_included_file_are_named_in_their_own_file(tmp_path: Path) -> None:
    """`include` brings another file's services: a finding there names that file."""
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "compose.yaml").write_text(one("postgres:16", "restart: always"))
    text = "include:\n  - path: [db/compose.yaml]\nservices:\n  web: {image: nginx}\n"
    findings = doctor(tmp_path, text)
    assert [(f.where, f.code) for f in findings] == [
        (f"{tmp_path / 'db' / 'compose.yaml'}:svc:restart", "restart-policy"),
        (f"{tmp_path / 'docker-compose.yml'}:web:healthcheck", "no-healthcheck"),
    ]
    assert [f.code for f in doctor(tmp_path, "include: [db/compose.yaml]\n")] == ["restart-policy"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("include: [nope.yml]\n", "include: nope.yml not found"),
        ("include: [docker-compose.yml]\n", "include: a loop"),
        ("include: [other.yml]\nservices: {x: {image: a}}\n", "services.x: defined in"),
        ("services: [x\n", "YAML syntax error"),
        ("- a\n- b\n", "expected a mapping"),
        ("name: x\n", "not a compose file: no services"),
        ("services: {}\n", "not a compose file: no services"),
        ("services: {a: 3}\n", "services.a: expected a mapping of settings"),
        ("services:\n  a: {extends: {service: b}}\n", "services.a: extends.service: no service"),
        ("services:\n  a: {extends: {file: nope.yml, service: b}}\n", "extends.file: nope.yml"),
        ("services:\n  a: {extends: b}\n  b: {extends: a}\n", "extends: a loop"),
    ],
)
def test_a_file_that_is_not_a_readable_compose_file_is_one_line(
    tmp_path: Path, text: str, said: str
) -> None:
    """Unreadable, not YAML, not a compose file, extends or includes to nowhere: one UsageError
    line naming the file."""
    (tmp_path / "other.yml").write_text("services: {x: {image: b}}\n", encoding="utf-8")
    with pytest.raises(UsageError) as e:
        doctor(tmp_path, text)
    assert said in str(e.value)
    assert str(tmp_path) in str(e.value) and "\n" not in str(e.value)


def test_every_code_is_in_the_one_table_shown_in_help_and_in_the_schema() -> None:
    """The codes the rules emit are the table's; --help shows each; the JSON schema's enum is
    the same table."""
    from reboot_harness.report.serialize import schema

    emitted = {code for _s, code, _k in RULES.values()} | {"no-healthcheck", "limit-from-ulimits"}
    assert set(CODES) == emitted
    shown = codes_help()
    assert all(code in shown for code in CODES)
    doc: Any = schema("doctor")
    assert doc["$defs"]["finding"]["properties"]["code"]["enum"] == list(CODES)


# -- the command line ----------------------------------------------------------------------------

RH = [sys.executable, "-m", "reboot_harness"]


def rh(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    return subprocess.run(
        [*RH, *args], capture_output=True, text=True, env=env, timeout=60, cwd=cwd
    )


def test_doctor_exits_0_without_findings_and_1_with_one_line_each(tmp_path: Path) -> None:
    """Exit 0 and a summary for a file that boots like a server; exit 1 and one line a finding
    (file:service:key: code: what; fix: how) for one that does not."""
    good = tmp_path / "good.yml"
    good.write_text(one("debian:12", "ports: ['127.0.0.1:8080:80']"), encoding="utf-8")
    done = rh("doctor", str(good))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{good}: 1 service, no findings"
    bad = tmp_path / "bad.yml"
    bad.write_text(one("debian:12", "restart: always", "ports: ['8080:80']"), encoding="utf-8")
    done = rh("doctor", str(bad))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:svc:restart: restart-policy: ")
    assert lines[1].startswith(f"{bad}:svc:ports: port-every-address: ")
    assert '; fix: publish it on 127.0.0.1 ("127.0.0.1:8080:80")' in lines[1]
    assert lines[2] == f"{bad}: 1 service, 2 findings; codes: reboot-harness doctor --help"


def test_doctor_exits_2_on_a_file_it_cannot_read(tmp_path: Path) -> None:
    """A missing file, or one that is not a compose file: one line on stderr, exit 2."""
    done = rh("doctor", str(tmp_path / "missing.yml"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"reboot-harness doctor: {tmp_path / 'missing.yml'}: compose file not found"
    )
    notes = tmp_path / "notes.yml"
    notes.write_text("- buy milk\n", encoding="utf-8")
    done = rh("doctor", str(notes))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_doctor_json_matches_its_schema(tmp_path: Path) -> None:
    """--json prints schema_version, the file and each finding (code, file, service, key,
    message, fix), valid against the shipped schema; the exit code is the same."""
    import jsonschema

    from reboot_harness.report.serialize import schema

    done = rh("doctor", "--json", str(DATA / "cache" / "compose.yaml"))
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    jsonschema.validate(doc, schema("doctor"))
    assert doc["file"] == str(DATA / "cache" / "compose.yaml")
    assert [(f["service"], f["key"], f["code"]) for f in doc["findings"]] == [
        ("memcached", "ulimits.nofile", "limit-from-ulimits")
    ]
    clean = tmp_path / "clean.yml"
    clean.write_text(one("debian:12"), encoding="utf-8")
    done = rh("doctor", "--json", str(clean))
    assert done.returncode == 0 and json.loads(done.stdout)["findings"] == []


def test_doctor_help_shows_the_table_of_codes() -> None:
    """`doctor --help` lists every finding code with what it means."""
    done = rh("doctor", "--help")
    assert done.returncode == 0
    assert all(code in done.stdout for code in CODES)
