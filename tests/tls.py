"""Throwaway TLS material (made by the openssl CLI at test time) and a TLS-stripping proxy."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

# The server greeting's capability bit for "I speak TLS" (MySQL's CLIENT_SSL).
CLIENT_SSL = 0x0800


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that signed the server's and the client's certificates
    other_ca: Path  # a CA that signed nothing here
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(folder: Path, server_names: str) -> Pki:
    """A CA, a server certificate for `server_names` (openssl subjectAltName syntax, e.g.
    "DNS:localhost"), a client certificate, and an unrelated CA."""
    folder.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "other-ca"):
        subject = f"/CN=test {ca}"
        _openssl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
                 "-keyout", f"{ca}.key", "-out", f"{ca}.pem")  # fmt: skip
    _signed(folder, "server", "/CN=kubeface test mariadb", f"subjectAltName={server_names}")
    _signed(folder, "client", "/CN=kubeface test client", "extendedKeyUsage=clientAuth")
    return Pki(
        ca=folder / "ca.pem",
        other_ca=folder / "other-ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
    )


def _signed(folder: Path, name: str, subject: str, extension: str) -> None:
    _openssl(folder, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
             "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
    (folder / f"{name}.ext").write_text(extension + "\n")
    _openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")  # fmt: skip


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


class TlsStrippingProxy:
    """A man in the middle on 127.0.0.1: relays to a MySQL server, but removes TLS from the
    server's greeting, so that a client that allows plaintext falls back to it."""

    def __init__(self, server_port: int, *, stripping: bool = True) -> None:
        self._server_port = server_port
        self._stripping = stripping
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        self._cut()

    def start_stripping(self) -> None:
        """Strip TLS from now on (an attacker arriving on the path); cut the connections relayed so far."""
        self._stripping = True
        self._cut()

    def _cut(self) -> None:
        for sock in self._open:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self._server_port))
            self._open += [client, server]
            greeting = _read_packet(server)
            client.sendall(_without_tls(greeting) if self._stripping else greeting)
            threading.Thread(target=_relay, args=(client, server), daemon=True).start()
            threading.Thread(target=_relay, args=(server, client), daemon=True).start()


def _read_packet(sock: socket.socket) -> bytes:
    header = _read_exactly(sock, 4)
    return header + _read_exactly(sock, int.from_bytes(header[:3], "little"))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection during its greeting")
        data += chunk
    return data


def _without_tls(greeting: bytes) -> bytes:
    """The greeting with CLIENT_SSL cleared: after the 4-byte header, the protocol version, the
    server version (NUL-terminated), a thread id (4), auth data (8) and a filler (1)."""
    at = greeting.index(b"\0", 5) + 1 + 4 + 8 + 1
    (capabilities,) = struct.unpack_from("<H", greeting, at)
    return greeting[:at] + struct.pack("<H", capabilities & ~CLIENT_SSL) + greeting[at + 2 :]


def _relay(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass  # either side closed: the relay ends
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed
