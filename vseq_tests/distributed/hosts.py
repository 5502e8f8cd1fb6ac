"""Hosts for the distributed tests: network namespaces on a bridge of their own, each with its
own hostname and its own empty disk, reaching the machine's services only over the network.

A :class:`Network` makes a bridge with a private /24 subnet (chosen free among 10.200-249.x.0)
and, per host, a network namespace joined to the bridge by a veth pair. The services the hosts
share (PostgreSQL, RabbitMQ, SeaweedFS) listen on loopback in the root namespace, as the machine
runs them; :meth:`Network.forward` exposes one of them on the bridge's address with a ``socat``
forward, so nothing about the shared services is reconfigured (RabbitMQ's ``guest`` user, which
may only log in from loopback, keeps working).

A process started on a host (:meth:`Host.start`) runs in the host's network namespace, in a UTS
namespace with the host's name (so Dagster's and Celery's host names differ per host), and in a
mount namespace where the hosts' common root directory is a fresh tmpfs: a host sees its own
directory and no other host's (shared: the checkout and its virtual environment, the "image").
Everything is removed on :meth:`Network.close`, which tests call from a finaliser.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def available() -> str | None:
    """Why hosts cannot be made here, or None when they can (root, iproute2, socat, unshare)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "socat", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    used = [ipaddress.ip_interface(word).network for word in _ip("-o", "-4", "addr").split() if "/" in word]
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{random.randint(200, 249)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(other) for other in used):
            return net
    raise RuntimeError("no free 10.x.y.0/24 subnet for the test hosts")


@dataclass
class Host:
    """One host: a network namespace, an address, a name, a private directory ``home``.

    Its mount and UTS namespaces are held by an anchor process (``sleep``), made when the host
    is; every process of the host enters them (``nsenter``), so they all see the same disk."""

    network: Network
    name: str
    namespace: str
    address: str
    anchor: subprocess.Popen | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def home(self) -> Path:
        """The host's own directory (inside the hosts' root, a tmpfs private to each host)."""
        return self.network.root / self.name

    def boot(self) -> None:
        """Make the host's disk (a fresh tmpfs over the hosts' root) and its name."""
        root, home = shlex.quote(str(self.network.root)), shlex.quote(str(self.home))
        script = (
            f"mount -t tmpfs -o size=4g,mode=0755 vseq-host {root} && hostname {shlex.quote(self.name)}"
            f" && mkdir -p {home}/tmp && exec sleep infinity"
        )
        self.anchor = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, "unshare", "--mount", "--uts", "--propagation", "private",
             "sh", "-c", script],
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.path(self.home / "tmp").is_dir():
            if self.anchor.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"host {self.name} did not boot")
            time.sleep(0.05)

    def path(self, inside: Path) -> Path:
        """Where the harness sees the host's path ``inside`` (through the anchor's root)."""
        assert self.anchor is not None
        return Path(f"/proc/{self.anchor.pid}/root") / inside.relative_to("/")

    def start(
        self, args: list[str], env: dict[str, str], log: str, files: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """Start ``args`` on this host, in a new session (so that :meth:`kill` reaches its
        children), with ``env`` plus HOME, TMPDIR under :attr:`home`. ``files`` (relative path ->
        text) are written under :attr:`home` first: the host's configuration, on its own disk.
        Output goes to ``log`` in the test's log directory (the harness's, not the host's)."""
        assert self.anchor is not None
        for relative, text in (files or {}).items():
            target = self.path(self.home / relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        command = ["nsenter", "-t", str(self.anchor.pid), "-n", "-m", "-u", *args]
        full_env = {**env, "HOME": str(self.home), "TMPDIR": str(self.home / "tmp")}
        out = open(self.network.logs / f"{self.name}.{log}.log", "ab")  # noqa: SIM115 - the process owns it
        process = subprocess.Popen(
            command, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.processes.append(process)
        return process

    def run(self, args: list[str], env: dict[str, str], timeout: float = 600) -> str:
        """Run ``args`` on this host to the end; its output (an error if it fails)."""
        log = f"run-{uuid.uuid4().hex[:6]}"
        process = self.start(args, env, log)
        code = process.wait(timeout=timeout)
        text = (self.network.logs / f"{self.name}.{log}.log").read_text(errors="replace")
        if code != 0:
            raise RuntimeError(f"{' '.join(args)} on {self.name} exited {code}: {text[-4000:]}")
        return text

    def kill(self) -> None:
        """SIGKILL every process started on this host (each one's whole session)."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)

    def terminate(self) -> None:
        """SIGTERM every process of this host (each one's whole session)."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM every process of this host, SIGKILL what is left after ``grace`` seconds."""
        self.terminate()
        deadline = time.monotonic() + grace
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        self.kill()


class Network:
    """A bridge, its subnet, the hosts on it and the forwards to the root namespace's services."""

    def __init__(self, workdir: Path) -> None:
        self.token = uuid.uuid4().hex[:6]
        self.subnet = _free_subnet()
        self.gateway = str(self.subnet.network_address + 1)
        self.bridge = f"vsq{self.token}br"
        self.root = workdir / "hosts"  # each host mounts a private tmpfs here
        self.logs = workdir / "logs"
        self.root.mkdir(parents=True)
        self.logs.mkdir(parents=True)
        self.hosts: dict[str, Host] = {}
        self.forwards: list[subprocess.Popen] = []
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def host(self, name: str) -> Host:
        """A new host ``name`` on the bridge."""
        index = len(self.hosts) + 1
        namespace = f"vseq-{self.token}-{name}"
        outside, inside = f"vsq{self.token}{index}h", f"vsq{self.token}{index}n"
        address = str(self.subnet.network_address + 10 + index)
        _ip("netns", "add", namespace)
        host = Host(self, name, namespace, address)
        self.hosts[name] = host
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("link", "set", outside, "master", self.bridge, "up")
        _ip("-n", namespace, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "route", "add", "default", "via", self.gateway)
        host.boot()
        return host

    def forward(self, target: str) -> int:
        """Expose ``target`` (socat address: ``TCP:127.0.0.1:5432``, ``UNIX-CONNECT:/path``) on
        the bridge's address; the port the hosts connect to."""
        import socket

        for _ in range(20):
            with socket.socket() as probe:
                probe.bind((self.gateway, 0))
                port = probe.getsockname()[1]
            listen = f"TCP-LISTEN:{port},bind={self.gateway},fork,reuseaddr"
            process = subprocess.Popen(
                ["socat", listen, target],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and process.poll() is None:
                with socket.socket() as probe, contextlib.suppress(OSError):
                    probe.settimeout(0.5)
                    if probe.connect_ex((self.gateway, port)) == 0:
                        self.forwards.append(process)
                        return port
                time.sleep(0.05)
            process.kill()
            process.wait()
        raise RuntimeError(f"could not forward {target} to {self.gateway}")

    def close(self) -> None:
        """Stop every process on every host and every forward, delete namespaces and links."""
        for host in self.hosts.values():  # every host at once: their grace periods overlap
            host.terminate()
        for host in self.hosts.values():
            host.stop(grace=3)
            if host.anchor is not None:
                host.anchor.kill()
                host.anchor.wait()
        for process in self.forwards:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for host in self.hosts.values():
            with contextlib.suppress(RuntimeError):
                _ip("netns", "del", host.namespace)
        with contextlib.suppress(RuntimeError):
            _ip("link", "del", self.bridge)
