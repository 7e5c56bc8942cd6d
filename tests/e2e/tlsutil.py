"""TLS helpers for the e2e tests: test certificates (python3-cryptography, any validity
period, ECDSA P-256), a MillionWS server with its wss:// listener, and RawWS over TLS.

The certificates are made here rather than with `just tls-cert` so that a test can ask for an
expired, a not-yet-valid or a mismatched pair, and knows each pair's subject.
"""

import datetime
import ipaddress
import re
import socket
import ssl
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import wsraw

TLS_LISTEN_RE = re.compile(r"TLS listening on \S+:(\d+)")


def make_pair(directory, name, cn="localhost", not_before_days=-1, not_after_days=30, key=None):
    """Writes NAME-cert.pem and NAME-key.pem into directory; returns (cert, key) paths."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=not_before_days))
            .not_valid_after(now + datetime.timedelta(days=not_after_days))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    directory = Path(directory)
    cert_path = directory / ("%s-cert.pem" % name)
    key_path = directory / ("%s-key.pem" % name)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def tls_port(server, timeout=10.0):
    """The wss:// port the server logged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = TLS_LISTEN_RE.search(server.log_text())
        if m:
            return int(m.group(1))
        if not server.alive():
            break
        time.sleep(0.02)
    raise AssertionError("no 'TLS listening on' line in the server log:\n" + server.log_tail())


def start_tls_server(server_factory, cert, key, *flags, env=None):
    s = server_factory.start("--tls-port", "0", "--tls-cert", cert, "--tls-key", key, *flags,
                             env=env)
    s.tls_port = tls_port(s)
    return s


def client_context(cafile=None, minimum=None, maximum=None, alpn=("http/1.1",)):
    """A client context trusting `cafile` (the self-signed certificate), or none at all."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class TlsRawWS(wsraw.RawWS):
    """RawWS over TLS: every wsraw helper (frames, HTTP, reads to EOF) on a wss:// socket."""

    def __init__(self, host, port, ctx=None, session=None, timeout=wsraw.DEFAULT_TIMEOUT):
        super().__init__(host, port, timeout=timeout, tls=ctx or client_context(),
                         session=session)


def peer_common_name(host, port, ctx=None):
    """The CN of the certificate the server presents now."""
    ctx = ctx or client_context()
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            der = s.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
