"""Smoke tests of the built CPU image (`make image`), run with podman as Kubernetes runs it.

Skipped, with the reason, where podman or the image is missing; `make image-test` builds the
image and runs them. KUBEFACE_IMAGE picks the image (default localhost/kubeface:dev).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import Mesh, service_ports, service_ready
from tests.servers import REPO

IMAGE = os.environ.get("KUBEFACE_IMAGE", "localhost/kubeface:dev")
CONTAINERS_CONF = REPO / "tools" / "image" / "containers.conf"
UID = 10001
# As the manifests run every container: a fixed non-root user, a read-only root, no
# capabilities, no privilege escalation. podman gives /tmp a tmpfs, as the pods' emptyDir.
LOCKED_DOWN = (
    "--read-only",
    f"--user={UID}:{UID}",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# CAs the host adds to Debian's (update-ca-certificates takes them from here): a TLS-inspecting
# proxy's CA is one; it must never reach an image.
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|PRIVATE", re.IGNORECASE)


def podman(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=timeout)


def _missing() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (`make image` installs it and builds the image)"
    if podman("image", "exists", IMAGE, timeout=60).returncode != 0:
        return f"image {IMAGE} is not built (`make image`)"
    return None


_MISSING = _missing()
pytestmark = [pytest.mark.image, pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")]


def run_locked_down(
    *args: str, entrypoint: str | None = None, user: bool = True
) -> subprocess.CompletedProcess:
    flags = [f for f in LOCKED_DOWN if user or not f.startswith("--user")]
    if entrypoint:
        flags.append(f"--entrypoint={entrypoint}")
    result = podman("run", "--rm", *flags, IMAGE, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_runs_as_its_unprivileged_user_on_a_read_only_root() -> None:
    user = podman("image", "inspect", "--format", "{{.Config.User}}", IMAGE).stdout.strip()
    assert user == f"{UID}:{UID}", "runAsNonRoot needs the image's user to be numeric and not root"
    probe = (
        "import os, tempfile\n"
        "print(os.getuid(), os.getgid())\n"
        "for path in ('/app/probe', '/opt/venv/probe', '/probe'):\n"
        "    try:\n"
        "        open(path, 'w')\n"
        "    except OSError as e:\n"
        "        print(path, e.strerror)\n"
        "    else:\n"
        "        print(path, 'writable')\n"
        "with tempfile.NamedTemporaryFile(dir='/tmp'):\n"
        "    print('/tmp writable')\n"
    )
    # Without --user: the image's own USER must already be the unprivileged one.
    lines = run_locked_down("-c", probe, entrypoint="python", user=False).stdout.splitlines()
    assert lines[0] == f"{UID} {UID}"
    for path in ("/app/probe", "/opt/venv/probe", "/probe"):
        assert f"{path} Read-only file system" in lines
    assert "/tmp writable" in lines


def test_kubeface_help_answers() -> None:
    out = run_locked_down("--help").stdout
    for command in ("receiver", "processor", "recognizer", "frontend", "migrate", "retry"):
        assert command in out, out


COMPILERS = ("gcc", "cc", "g++", "c++", "clang", "cpp", "ld", "make", "cmake")


def test_final_stage_has_no_compiler_or_headers() -> None:
    probe = (
        "import glob, json, shutil, subprocess, sys\n"
        "tools = [t for t in sys.argv[1:] if shutil.which(t)]\n"
        "headers = glob.glob('/usr/include/python3*') + glob.glob('/usr/local/include/python3*')\n"
        "listed = subprocess.run(['dpkg-query', '-W', '-f', '${Package} '], capture_output=True, text=True)\n"
        "dev = [p for p in listed.stdout.split() if p.endswith('-dev')]\n"
        "print(json.dumps({'tools': tools, 'headers': headers, 'dev_packages': dev}))\n"
    )
    found = json.loads(run_locked_down("-c", probe, *COMPILERS, entrypoint="python").stdout)
    assert found == {"tools": [], "headers": [], "dev_packages": []}


# ---------------------------------------------------------------- what the layers hold


def _pem_bodies(text: str) -> set[str]:
    return {
        "".join(block.split())
        for block in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    }


def _leak_markers() -> tuple[set[bytes], str]:
    """Byte strings that only a copy of a host-added CA would contain, and the host bundle's hash."""
    markers: set[bytes] = set()
    for crt in sorted(LOCAL_CAS.rglob("*.crt")) if LOCAL_CAS.is_dir() else []:
        for body in _pem_bodies(crt.read_text(errors="replace")):
            markers.add(body[64:128].encode())  # one base64 line past the common prefix
    bundle = hashlib.sha256(HOST_CA.read_bytes()).hexdigest() if HOST_CA.is_file() else ""
    return markers, bundle


def _archive_blobs(tmp_path: Path) -> tuple[list[Path], dict]:
    """The image's layer tarballs and its config, from `podman save` (every layer, not the merge)."""
    archive = tmp_path / "image.tar"
    saved = podman("save", "--format", "oci-archive", "-o", str(archive), IMAGE, timeout=600)
    assert saved.returncode == 0, saved.stderr
    root = tmp_path / "oci"
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    archive.unlink()
    index = json.loads((root / "index.json").read_text())

    def blob(descriptor: dict) -> Path:
        return root / "blobs" / Path(*descriptor["digest"].split(":", 1))

    manifest = json.loads(blob(index["manifests"][0]).read_text())
    config = json.loads(blob(manifest["config"]).read_text())
    return [blob(layer) for layer in manifest["layers"]], config


def test_no_host_ca_pip_conf_or_secret_in_any_layer(tmp_path: Path) -> None:
    markers, bundle_hash = _leak_markers()
    layers, config = _archive_blobs(tmp_path)
    leaks = []
    for number, layer in enumerate(layers):
        with tarfile.open(layer, mode="r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name in ("etc/pip.conf", "run/host-ca.crt") or name.endswith("/pip.conf"):
                    leaks.append(f"layer {number}: {name}")
                if not member.isfile() or member.size > 4_000_000:
                    continue
                data = tar.extractfile(member).read()
                if hashlib.sha256(data).hexdigest() == bundle_hash:
                    leaks.append(f"layer {number}: {name} is the host's CA bundle")
                if any(marker in data for marker in markers):
                    leaks.append(f"layer {number}: {name} holds a host-added CA")
    assert not leaks, leaks
    env_names = [entry.split("=", 1)[0] for entry in config["config"].get("Env", [])]
    assert not [n for n in env_names if SECRET_NAME.search(n)], env_names
    history = " ".join(step.get("created_by", "") for step in config.get("history", []))
    for word in ("host-ca", "pip.conf"):
        assert word not in history
    assert not SECRET_NAME.search(history), "a build step mentions a secret-looking name"


# ---------------------------------------------------------------- each service, against the mesh

# The service's ports (fresh, so as not to meet the mesh's own services).
SERVICE_PORTS = {
    "receiver": ("RECEIVER_PORT",),
    "frontend": ("FRONTEND_PORT",),
    "recognizer": ("RECOGNIZER_PORT", "RECOGNIZER_METRICS_PORT"),
    "processor": ("PROCESSOR_METRICS_PORT",),
}


def _container_env(mesh: Mesh, service: str) -> dict[str, str]:
    """The mesh's settings (not the host's environment), the service's account and fresh ports."""
    env = {k: v for k, v in mesh.env.items() if os.environ.get(k) != v}
    env.update(mesh.accounts.get(service, {}))
    fresh = service_ports()
    env.update({key: fresh[key] for key in SERVICE_PORTS[service]})
    return env


def _logs(name: str) -> str:
    result = podman("logs", "--tail", "40", name, timeout=60)
    return result.stdout + result.stderr


def _wait_healthy(name: str, service: str, env: dict[str, str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name, timeout=60)
        if not state.stdout.startswith("running"):
            raise AssertionError(f"{service} container stopped ({state.stdout.strip()}):\n{_logs(name)}")
        try:
            if service_ready(service, env):
                return
        except Exception:  # noqa: BLE001 - not listening yet; keep polling until the deadline
            pass
        time.sleep(0.5)
    raise AssertionError(f"{service} not healthy after {timeout}s:\n{_logs(name)}")


@pytest.mark.parametrize("service", ["recognizer", "receiver", "processor", "frontend"])
def test_each_service_starts_from_the_image_and_answers_its_health_check(
    mesh: Mesh, service: str, tmp_path: Path
) -> None:
    env = _container_env(mesh, service)
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    name = f"kubeface-image-test-{service}-{uuid.uuid4().hex[:8]}"
    root = str(mesh.image_root)
    started = podman(
        "run", "--detach", f"--name={name}", "--network=host", *LOCKED_DOWN,
        f"--volume={root}:{root}:ro", f"--env-file={env_file}", IMAGE, service,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        _wait_healthy(name, service, env)
        # Kubernetes stops a pod with SIGTERM to PID 1: the service must drain and exit 0.
        stopped = podman("stop", "--time=30", name, timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        code = podman("inspect", "--format", "{{.State.ExitCode}}", name, timeout=60).stdout.strip()
        assert code == "0", f"{service} exited {code} on SIGTERM:\n{_logs(name)}"
    finally:
        podman("rm", "--force", "--time=5", name, timeout=60)
