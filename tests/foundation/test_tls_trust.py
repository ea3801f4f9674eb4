"""The image's CA settings (Dockerfile: ``SSL_CERT_FILE=/dev/null``, ``SSL_CERT_DIR=/etc/ssl/certs``; the same in
``bench.bench_process.TLS_ENV``): no CA is parsed into a TLS context at import, a CA of the directory is trusted
when a connection needs it, and a server no CA there vouches for is still refused.

The client runs in a child interpreter, because aiohttp makes its TLS contexts when it is imported; the server is a
real aiohttp server on 127.0.0.1 with a certificate issued by a CA made for the test.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.bench_process import TLS_ENV

CLIENT = """
import asyncio, sys
import aiohttp
from aiohttp import connector

async def main() -> None:
    print("loaded", connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"])
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(sys.argv[1]) as response:
                print("answered", response.status, await response.text())
        except aiohttp.ClientConnectorCertificateError as exc:
            print("refused", exc.certificate_error.verify_message)
    print("loaded", connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"])

asyncio.run(main())
"""


def subject_hash(name: x509.Name) -> str:
    """OpenSSL's ``X509_NAME_hash`` (``openssl x509 -subject_hash``), the file name ``SSL_CERT_DIR`` is searched by,
    for a name whose values are already canonical (lower case, single spaces): SHA-1 of the name's DER without its
    outer SEQUENCE header, the first four bytes read little-endian."""
    der = name.public_bytes()
    length = der[1]
    header = 2 if length < 0x80 else 2 + (length & 0x7F)
    return f"{int.from_bytes(hashlib.sha1(der[header:]).digest()[:4], 'little'):08x}"  # noqa: S324 - OpenSSL's


def issue(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """(the server's https URL, the CA certificate that issued its certificate)."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reseller bot test ca")])
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    ca = issue(ca_name, ca_name, ca_key, ca_key, ca=True)
    (tmp_path / "ca.pem").write_bytes(pem(ca))
    (tmp_path / "server.pem").write_bytes(pem(issue(server_name, ca_name, server_key, ca_key, ca=False)))
    key = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "server.key").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    port = runner.addresses[0][1]
    yield f"https://127.0.0.1:{port}/", tmp_path / "ca.pem"
    await runner.cleanup()


async def fetch(url: str, cert_dir: Path) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", **TLS_ENV, "SSL_CERT_DIR": str(cert_dir)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, url, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_a_ca_of_the_directory_is_trusted_when_needed_and_none_is_loaded_before(
    tls_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, ca = tls_server
    certs = tmp_path / "certs"
    certs.mkdir()
    name = x509.load_pem_x509_certificate(ca.read_bytes()).subject
    (certs / f"{subject_hash(name)}.0").write_bytes(ca.read_bytes())
    assert await fetch(url, certs) == ["loaded 0", "answered 200 hello", "loaded 1"]


async def test_a_server_no_ca_of_the_directory_vouches_for_is_refused(
    tls_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = tls_server
    empty = tmp_path / "empty"
    empty.mkdir()
    assert await fetch(url, empty) == ["loaded 0", "refused unable to get local issuer certificate", "loaded 0"]
