"""TLS to MySQL: the modes (named as the MySQL client's --ssl-mode), their checks, their context.

Imports no pymysql: settings.py uses the mode and the checks, and `kubeface --help` imports
settings without the database driver (issue 15).
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubeface.settings import Settings

# pymysql's "SSL is required but the server doesn't support it" (MySQL's CR_SSL_CONNECTION_ERROR).
SSL_CONNECTION_ERROR = 2026
# A TLS handshake cut short: the server (or a proxy) went away mid-way, which may pass.
_MAY_PASS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


class MysqlSslMode(StrEnum):
    DISABLED = "disabled"  # never TLS
    PREFERRED = "preferred"  # TLS when the server offers it, unverified; none on the loopback
    REQUIRED = "required"  # TLS or no connection; the server is not verified
    VERIFY_CA = "verify_ca"  # and its certificate chains to MYSQL_SSL_CA
    VERIFY_IDENTITY = "verify_identity"  # and names MYSQL_HOST

    @property
    def verifies(self) -> bool:
        return self in (MysqlSslMode.VERIFY_CA, MysqlSslMode.VERIFY_IDENTITY)


class DatabaseTlsError(ConnectionError):
    """MySQL's TLS failed for a reason that does not pass by itself (a wrong CA, a certificate
    for another name, no TLS at all): services stop at start instead of waiting."""


def on_this_machine(host: str) -> bool:
    """Whether MYSQL_HOST is this machine's loopback, which nobody else can listen to."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls_settings(mode: MysqlSslMode, ca: Path | None, cert: Path | None, key: Path | None) -> None:
    """Refuse a TLS setting that cannot work, or that looks safer than it is, saying what to set."""
    if ca is not None and not mode.verifies:
        # pymysql would take the CA and verify nothing: the setting would only look safe.
        raise ValueError(
            f"MYSQL_SSL_CA is set but MYSQL_SSL_MODE={mode} does not check the server against it;"
            " set MYSQL_SSL_MODE=verify_identity (or verify_ca), or unset MYSQL_SSL_CA"
        )
    if key is not None and cert is None:
        raise ValueError("MYSQL_SSL_KEY is set without MYSQL_SSL_CERT: set both, or neither")
    if cert is not None and mode in (MysqlSslMode.DISABLED, MysqlSslMode.PREFERRED):
        raise ValueError(
            f"MYSQL_SSL_CERT is set but MYSQL_SSL_MODE={mode} may connect without TLS, and so without"
            " the client certificate; set MYSQL_SSL_MODE=required or a verify mode"
        )
    client_context(mode, ca, cert, key)  # the files: there, readable, PEM


@functools.lru_cache(maxsize=8)
def client_context(
    mode: MysqlSslMode, ca: Path | None, cert: Path | None, key: Path | None
) -> ssl.SSLContext:
    """The TLS context of a mode that always uses TLS; a file that will not load is a ValueError
    naming its setting.

    One per process for the same files, shared by every connection (an SSLContext is made to be):
    loading a CA bundle costs about 20 ms (the system's), which the settings check and then each
    new connection paid again. The files are read once: a changed CA needs a restart.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # As pymysql's own: MySQL's self-made CA certificates lack the extensions strict mode wants.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if mode.verifies:
        if ca is None:
            raise ValueError(
                f"MYSQL_SSL_MODE={mode} needs MYSQL_SSL_CA: set it to the PEM file of the CA that signed"
                " the server's certificate (your provider publishes it; for a public CA, the system"
                " bundle /etc/ssl/certs/ca-certificates.crt)"
            )
        _load("MYSQL_SSL_CA", ca, lambda path: context.load_verify_locations(cafile=path))
        context.check_hostname = mode is MysqlSslMode.VERIFY_IDENTITY
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        names = "MYSQL_SSL_CERT" if key is None else f"MYSQL_SSL_KEY={key} or MYSQL_SSL_CERT"
        _load(names, cert, lambda path: context.load_cert_chain(path, keyfile=key))
    return context


def _load(setting: str, path: Path, load: Callable[[Path], None]) -> None:
    try:
        load(path)
    except OSError as exc:  # ssl.SSLError included: not PEM, or a key that does not fit
        raise ValueError(f"{setting}={path} cannot be loaded ({exc}); set it to a readable PEM file") from exc


def tls_arguments(settings: Settings) -> dict[str, Any]:
    """pymysql's TLS keyword arguments for the settings' mode."""
    mode = settings.mysql_ssl_mode
    if mode is MysqlSslMode.DISABLED:
        return {"ssl_disabled": True}
    if mode is MysqlSslMode.PREFERRED:
        # pymysql's default, unverified. Its setup loads the system's CA bundle for a context that
        # verifies nothing: 20-40 ms per connection, a tenth of `kubeface status` (issue 15), for no
        # protection on this machine's loopback.
        return {"ssl_disabled": on_this_machine(settings.mysql_host)}
    # A context of our own: pymysql then requires TLS, and checks exactly what the mode says.
    context = client_context(mode, settings.mysql_ssl_ca, settings.mysql_ssl_cert, settings.mysql_ssl_key)
    return {"ssl": context}


def tls_refusal(exc: Exception, settings: Settings) -> DatabaseTlsError | None:
    """The one-line DatabaseTlsError for a pymysql connection error caused by TLS, else None."""
    where = f"MySQL at {settings.mysql_host}:{settings.mysql_port}"
    mode = settings.mysql_ssl_mode
    if exc.args and exc.args[0] == SSL_CONNECTION_ERROR:
        return DatabaseTlsError(
            f"MYSQL_SSL_MODE={mode}: {where} offers no TLS (or something between strips it);"
            " enable TLS on the server, or set MYSQL_SSL_MODE=preferred to allow plaintext"
        )
    cause = getattr(exc, "original_exception", None)
    if not isinstance(cause, ssl.SSLError) or isinstance(cause, _MAY_PASS):
        return None
    if isinstance(cause, ssl.SSLCertVerificationError):
        fix = (
            f"set MYSQL_SSL_CA to the CA that signed the server's certificate (now {settings.mysql_ssl_ca})"
            if "mismatch" not in cause.verify_message.lower()
            else "set MYSQL_HOST to a name the certificate holds, or MYSQL_SSL_MODE=verify_ca"
        )
        return DatabaseTlsError(
            f"MYSQL_SSL_MODE={mode}: {where} failed verification ({cause.verify_message}); {fix}"
        )
    return DatabaseTlsError(f"MYSQL_SSL_MODE={mode}: the TLS handshake with {where} failed ({cause.reason})")
