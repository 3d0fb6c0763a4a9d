"""Run an aiohttp application on 127.0.0.1 in a background thread, over TLS with a throwaway CA.

Shared by the emulated Kubernetes API server and the fake IBM Cloud endpoints: both need a real
socket (the clients under test are not mocked) and a CA the clients can be told to trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import shutil
import socket
import ssl
import tempfile
import threading
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 15.0


class CertificateAuthority:
    """A throwaway CA and one server certificate for 127.0.0.1 / localhost, all PEM-encoded."""

    def __init__(self, common_name: str = "tekton-cd test CA"):
        now = datetime.datetime.now(datetime.UTC)
        # Back-date a little: clients on a clock a second behind must not see "not yet valid".
        not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ca_ski, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        server_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_pem = ca_cert.public_bytes(pem).decode()
        self.server_cert_pem = server_cert.public_bytes(pem).decode()
        self.server_key_pem = server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def write(self, directory: Path) -> tuple[Path, Path, Path]:
        """Write ca.crt, server.crt and server.key into `directory`; return their paths."""
        paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
        for path, text in zip(paths, (self.ca_pem, self.server_cert_pem, self.server_key_pem), strict=True):
            path.write_text(text)
        paths[2].chmod(0o600)
        return paths


class BackgroundServer:
    """Serve `app` on 127.0.0.1 from a daemon thread for the duration of a `with` block.

    `tls=True` (default) serves HTTPS with a certificate from a fresh CA; `.ca_file` / `.ca_pem`
    let clients verify it. `port=0` picks a free port. `.url` is e.g. ``https://127.0.0.1:40123``.
    """

    def __init__(self, app: web.Application, tls: bool = True, port: int = 0, state_dir: Path | None = None):
        self.app = app
        self.tls = tls
        self._requested_port = port
        self._given_state_dir = state_dir
        self._state_dir: Path | None = None
        self._owns_state_dir = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self.port: int | None = None
        self.ca_pem: str | None = None
        self.ca_file: str | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not running; use it as a context manager or call start()")
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop, for code that must run on it (e.g. waking watchers)."""
        if self._loop is None:
            raise RuntimeError("the server is not running")
        return self._loop

    def start(self) -> BackgroundServer:
        if self._given_state_dir is not None:
            self._state_dir = Path(self._given_state_dir)
            self._state_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._state_dir = Path(tempfile.mkdtemp(prefix="tekton-cd-server-"))
            self._owns_state_dir = True
        ssl_context = None
        if self.tls:
            ca = CertificateAuthority()
            ca_path, cert_path, key_path = ca.write(self._state_dir)
            self.ca_pem, self.ca_file = ca.ca_pem, str(ca_path)
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(cert_path, key_path)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self._requested_port))
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(
            target=self._serve, args=(listener, ssl_context), name=f"server-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._started.wait(STARTUP_TIMEOUT):
            raise RuntimeError(f"server on port {self.port} did not start within {STARTUP_TIMEOUT} s")
        if self._startup_error is not None:
            raise RuntimeError(f"server on port {self.port} failed to start") from self._startup_error
        return self

    def _serve(self, listener: socket.socket, ssl_context: ssl.SSLContext | None) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            # Short shutdown timeout: open watches would otherwise hold stop() for a minute.
            self._runner = web.AppRunner(self.app, shutdown_timeout=0.5, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.SockSite(self._runner, listener, ssl_context=ssl_context)
            loop.run_until_complete(site.start())
        except BaseException as error:  # reported to the starting thread, not swallowed
            self._startup_error = error
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        # Whatever still runs (open watches, keep-alive handlers) is cancelled, not abandoned.
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            # A shutdown that times out or fails still ends with the loop stopped below.
            with contextlib.suppress(TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = None
        self._loop = None
        if self._owns_state_dir and self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
        self.port = None

    def run_coroutine(self, coroutine, timeout: float = 10.0):
        """Run `coroutine` on the server's loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
