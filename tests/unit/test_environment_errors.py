"""Environment errors say what to do and exit 2: a full disk during an image build (in the daemon,
in a RUN step, while packing the context, while making the offline base) is an
EnvironmentProblem of one line; every other build failure stays an ImageBuildError (exit 1).
Also the compose plugin and debootstrap being missing. No Docker needed."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from docker.errors import APIError, BuildError

from reboot_harness.errors import EnvironmentProblem, HarnessError, ImageBuildError
from reboot_harness.faces import cli
from reboot_harness.inputs.compose import offline
from reboot_harness.stack import diskfull, images

CONTEXT = Path("/src/compose/images/app")
IMAGE = "reboot-harness/app:h-123456789abc"
FREE = 3 * 1024 * 1024 + 300 * 1024  # 3.3 MiB


def _data_root() -> tuple[str, int | None]:
    return "/srv/docker-data", FREE


def _classify(e: BuildError | APIError | OSError) -> HarnessError:
    return images.build_failure(e, image=IMAGE, context=CONTEXT, data_root=_data_root)


def _build_error(steps: list[str], error: str) -> BuildError:
    """What docker-py raises: the error chunk's text and the (one-shot) stream of chunks."""
    chunks = [{"stream": s} for s in steps] + [
        {"errorDetail": {"code": 1, "message": error}, "error": error}
    ]
    return BuildError(error, iter(chunks))


def _api_error(explanation: str) -> APIError:
    response = requests.Response()
    response.status_code = 500
    response.url = "http+docker://localhost/v1.41/build"
    response.reason = "Internal Server Error"
    return APIError("500 Server Error", response=response, explanation=explanation)


def _one_line(e: HarnessError) -> str:
    text = str(e)
    assert "\n" not in text, text
    return text


@pytest.mark.parametrize(
    "text",
    [
        "dd: error writing '/dev/shm/fill': No space left on device",
        "failed to register layer: Error processing tar file(exit status 1): write"
        " /usr/lib/x86_64-linux-gnu/libLLVM.so.15: no space left on device",
        "OSError: [Errno 28] No space left on device: '/data/cache.bin'",
        "npm ERR! code ENOSPC",
        "E: You don't have enough free space in /var/cache/apt/archives/.",
        "\x1b[91mtar: ./usr/bin/perl: Cannot write: No space left on device\n\x1b[0m",
    ],
)
def test_every_spelling_of_a_full_disk_is_recognised(text: str) -> None:
    """ENOSPC as the daemon, a RUN step, Python, node or apt say it is found, colour-free."""
    found = diskfull.evidence("Step 3/4 : RUN make\nbuilding...\n" + text + "\nmore output\n")
    assert found is not None and "\x1b" not in found and "\n" not in found
    assert found == " ".join(text.replace("\x1b[91m", "").replace("\x1b[0m", "").split())


@pytest.mark.parametrize(
    "text",
    [
        "E: Unable to locate package nope",
        "The command '/bin/sh -c make' returned a non-zero code: 2",
        "OSError: [Errno 2] No such file or directory: 'x'",
        "error: no whitespace allowed in tag names",
    ],
)
def test_other_failures_are_not_a_full_disk(text: str) -> None:
    """Ordinary build errors are not mistaken for a full disk."""
    assert diskfull.evidence(text) is None


def test_a_run_step_filling_its_disk_is_an_environment_problem_of_one_line() -> None:
    """A RUN step's ENOSPC: one line naming the Dockerfile, image, step, the log's evidence,
    docker's data-root with its free space, and what to do."""
    e = _build_error(
        [
            "Step 1/4 : ARG BASE_IMAGE\n",
            "Step 3/4 : RUN dd if=/dev/zero of=/big bs=1M count=9999\n",
            " ---> Running in 5633e6b7b6ab\n",
            "\x1b[91mdd: error writing '/big': No space left on device\n1+0 records in\n\x1b[0m",
            "Removing intermediate container 5633e6b7b6ab\n",
        ],
        "The command '/bin/sh -c dd if=/dev/zero of=/big bs=1M count=9999' returned a"
        " non-zero code: 1",
    )
    problem = _classify(e)
    assert isinstance(problem, EnvironmentProblem)
    assert _one_line(problem) == (
        f"{CONTEXT}/Dockerfile: build of {IMAGE} at Step 3/4 : RUN dd if=/dev/zero of=/big"
        " bs=1M count=9999 ran out of disk space (dd: error writing '/big': No space left on"
        " device); free space where Docker keeps images and build layers, its data-root"
        " /srv/docker-data (3.3 MiB free now): `docker system df`, then `docker image prune`"
        " and `docker builder prune`, and run again"
    )


def test_the_daemon_running_out_of_space_is_an_environment_problem() -> None:
    """The daemon's own ENOSPC (committing a layer) in the error chunk is found too."""
    e = _build_error(
        ["Step 2/4 : FROM reboot-harness/base:bookworm\n", "Step 3/4 : RUN apt-get install x\n"],
        "failed to register layer: Error processing tar file(exit status 1): write"
        " /usr/share/doc/x: no space left on device",
    )
    problem = _classify(e)
    assert isinstance(problem, EnvironmentProblem)
    text = _one_line(problem)
    assert "at Step 3/4 : RUN apt-get install x ran out of disk space" in text
    assert "write /usr/share/doc/x: no space left on device" in text


def test_apt_refusing_for_lack_of_space_is_an_environment_problem() -> None:
    """apt-get's own check ("You don't have enough free space") counts as a full disk."""
    e = _build_error(
        [
            "Step 3/4 : RUN apt-get install -y x\n",
            "E: You don't have enough free space in /var/cache/apt/archives/.\n",
        ],
        "The command '/bin/sh -c apt-get install -y x' returned a non-zero code: 100",
    )
    assert isinstance(_classify(e), EnvironmentProblem)


def test_other_build_failures_stay_image_build_errors_with_the_log_tail() -> None:
    """A failing RUN step that is not about space is an ImageBuildError (exit 1) with the end
    of the build log, as before."""
    e = _build_error(
        ["Step 3/4 : RUN apt-get install -y nope\n", "E: Unable to locate package nope\n"],
        "The command '/bin/sh -c apt-get install -y nope' returned a non-zero code: 100",
    )
    problem = _classify(e)
    assert type(problem) is ImageBuildError
    assert str(problem).startswith(f"{CONTEXT}/Dockerfile: build of {IMAGE} failed: The command")
    assert "E: Unable to locate package nope" in str(problem)


def test_api_errors_about_space_are_environment_problems_others_are_not() -> None:
    """A 500 from the build endpoint saying ENOSPC names the data-root; another does not."""
    full = _classify(
        _api_error("write /var/lib/docker/tmp/docker-builder1/blob: no space left on device")
    )
    assert isinstance(full, EnvironmentProblem)
    assert f"{CONTEXT}: build of {IMAGE} ran out of disk space (500 Server Error" in _one_line(full)
    assert "data-root /srv/docker-data (3.3 MiB free now)" in str(full)
    other = _classify(_api_error("dockerfile parse error line 3: unknown instruction: RUNN"))
    assert type(other) is ImageBuildError and "unknown instruction" in str(other)


def test_a_full_tmpdir_while_packing_the_context_names_that_directory(tmp_path: Path) -> None:
    """docker-py packs the context into a temporary file and rewords the ENOSPC as "Can not
    read file in context"; the cause is found and the line names TMPDIR's directory and its
    free space."""
    try:
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as cause:
            raise OSError("Can not read file in context: /src/app/blob") from cause
    except OSError as wrapped:
        e = wrapped
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(tmp_path))
        problem = _classify(e)
    assert isinstance(problem, EnvironmentProblem)
    text = _one_line(problem)
    assert text.startswith(
        f"{CONTEXT}: packing the build context of {IMAGE} ran out of disk space in {tmp_path}"
        " ([Errno 28] No space left on device; "
    )
    assert re.search(
        r"; \d+\.\d (KiB|MiB|GiB|TiB) free now\); free space there or point TMPDIR", text
    )


def test_an_enospc_with_a_file_name_names_its_directory(tmp_path: Path) -> None:
    """An OSError(ENOSPC) carrying a file name points at that file's directory."""
    e = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "ctx.tar"))
    assert f"ran out of disk space in {tmp_path} (" in str(_classify(e))


def test_other_os_errors_while_building_are_image_build_errors() -> None:
    """An unreadable context file is the build's problem (exit 1), not a traceback."""
    e = OSError(errno.EACCES, "Permission denied", "/src/app/secret")
    problem = _classify(e)
    assert type(problem) is ImageBuildError and "Permission denied" in str(problem)


def test_a_remote_engines_free_space_is_not_guessed() -> None:
    """When the data-root cannot be measured from here the line says so instead of a number."""
    e = _build_error(["Step 3/4 : RUN x\n", "x: No space left on device\n"], "non-zero code: 1")
    problem = images.build_failure(
        e, image=IMAGE, context=CONTEXT, data_root=lambda: ("/var/lib/docker", None)
    )
    assert "its data-root /var/lib/docker (free space not measurable from here)" in str(problem)


# --- the offline base image (debootstrap + tar + docker import) -----------------------------


def _script(bindir: Path, name: str, body: str) -> None:
    bindir.mkdir(exist_ok=True)
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def base_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`_debootstrap_base` with commands from ``tmp_path/bin`` first on PATH, as root, with a
    mirror, building in ``tmp_path/tmp``. Returns the bin directory."""
    bindir = tmp_path / "bin"
    _script(bindir, "debootstrap", 'mkdir -p "$3"; exit 0')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(images, "_apt_mirror", lambda: "http://deb.example/debian")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return bindir


def test_debootstrap_filling_tmp_is_one_line_naming_tmp(base_build: Path, tmp_path: Path) -> None:
    """debootstrap failing for space (the ENOSPC only in its log, as it does) is one line
    naming the temporary directory, its free space and the fix."""
    _script(
        base_build,
        "debootstrap",
        'log="$3/debootstrap/debootstrap.log"; mkdir -p "$3/debootstrap"\n'
        'echo "tar: ./usr/lib/x: Cannot write: No space left on device" >"$log"\n'
        'echo "W: Failure trying to run: chroot $3 dpkg, see $log" >&2\n'
        "exit 1",
    )
    with pytest.raises(EnvironmentProblem) as info:
        images._debootstrap_base(lambda _: None)
    text = _one_line(info.value)
    assert text.startswith(
        f"building the offline base image {images.OFFLINE_BASE} (debootstrap bookworm from"
        f" http://deb.example/debian) ran out of disk space in {tmp_path / 'tmp'} (tar:"
        " ./usr/lib/x: Cannot write: No space left on device; "
    )
    assert text.endswith(
        "free now); free space there or point TMPDIR at a larger filesystem (the offline base"
        " needs about 400 MB there for a moment), and run again"
    )


def test_tar_filling_tmp_is_one_line(base_build: Path) -> None:
    """Writing the base tarball on a full disk (tar's ENOSPC) is an EnvironmentProblem, not a
    CalledProcessError traceback."""
    _script(base_build, "tar", 'echo "tar: $4: Cannot write: No space left on device" >&2; exit 2')
    with pytest.raises(EnvironmentProblem, match=r"\(tar\) ran out of disk space in "):
        images._debootstrap_base(lambda _: None)


def test_no_room_for_the_work_directory_is_one_line(
    base_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OSError errno 28 making the base's work directory is an EnvironmentProblem."""

    def full(*_args: object, **_kwargs: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "tmp" / "rh-base-x"))

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    with pytest.raises(EnvironmentProblem) as info:
        images._debootstrap_base(lambda _: None)
    assert _one_line(info.value).startswith(
        f"building the offline base image {images.OFFLINE_BASE} ran out of disk space in"
        f" {tmp_path / 'tmp'} ([Errno 28] No space left on device: "
    )


def test_debootstrap_failing_otherwise_keeps_its_message(base_build: Path) -> None:
    """A debootstrap failure that is not about space still names the mirror and its output."""
    _script(base_build, "debootstrap", 'echo "E: Failed getting release file" >&2; exit 1')
    with pytest.raises(EnvironmentProblem) as info:
        images._debootstrap_base(lambda _: None)
    assert "debootstrap bookworm from http://deb.example/debian failed (exit 1)" in str(info.value)
    assert "and the mirror" in str(info.value) and "E: Failed getting release file" in str(
        info.value
    )


def test_debootstrap_missing_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without debootstrap (and no registry) the problem names the package and RH_BASE_IMAGE."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match=r"`apt-get install debootstrap`.*RH_BASE_IMAGE"):
        images._debootstrap_base(lambda _: None)


# --- the compose plugin ---------------------------------------------------------------------


@pytest.fixture
def fresh_compose_version() -> Iterator[None]:
    offline.compose_version.cache_clear()
    yield
    offline.compose_version.cache_clear()


@pytest.mark.usefixtures("fresh_compose_version")
def test_compose_plugin_missing_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `docker` without the compose subcommand is an EnvironmentProblem naming Compose v2."""
    _script(tmp_path, "docker", "echo \"docker: 'compose' is not a docker command.\" >&2; exit 1")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match=r"Compose v2 plugin is missing.*not a docker"):
        offline.compose_version()


@pytest.mark.usefixtures("fresh_compose_version")
def test_docker_cli_missing_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No `docker` on PATH at all is an EnvironmentProblem with the setup hint."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match=r"`docker` command is not on PATH.*setup-host"):
        offline.compose_version()


# --- the CLI --------------------------------------------------------------------------------


def test_cli_build_exits_2_on_a_full_disk_and_1_on_a_broken_build(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`build` prints the full-disk problem as one line and exits 2; a broken Dockerfile
    exits 1."""
    from reboot_harness.stack import lifecycle

    full = _classify(_build_error(["Step 3/4 : RUN x\n", "x: No space left on device\n"], "1"))
    broken = _classify(_build_error(["Step 3/4 : RUN x\n", "x: not found\n"], "code: 127"))

    def build_raising(problem: HarnessError) -> object:
        def build(progress: object = None) -> str:
            raise problem

        return build

    monkeypatch.setattr(lifecycle, "build", build_raising(full))
    assert cli.main(["build"]) == 2
    assert capsys.readouterr().err == f"reboot-harness build: {full}\n"
    monkeypatch.setattr(lifecycle, "build", build_raising(broken))
    assert cli.main(["build"]) == 1
    assert capsys.readouterr().err.startswith("reboot-harness build: /src/compose/images/app/")
