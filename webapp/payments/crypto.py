"""The signatures and ciphers the providers use: RSA SHA-256 (PKCS#1 v1.5), AES-256-GCM, Alipay's
sorted ``k=v&…`` signing string and UnionPay 5.1.0's digest-then-sign. Keys are PEM files generated
on first run and parsed once per process (parsing a 2048-bit key costs ~50 ms).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .base import SignatureError

# Merchant side (the app's) and provider side (the simulation's) key files, relative to instance/.
MERCHANT_KEYS = {
    "wechat": "keys/wechat_merchant",
    "alipay": "keys/alipay_app",
    "unionpay": "keys/unionpay_merchant",
    "bank": "keys/bank_merchant",
}
PLATFORM_KEYS = {
    "wechat": "sim/keys/wechat_platform",
    "alipay": "sim/keys/alipay_platform",
    "unionpay": "sim/keys/unionpay_platform",
    "bank": "sim/keys/bank_platform",
}
APIV3_KEY = "keys/wechat_apiv3.key"


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)  # the mode from the first byte, not after
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)  # fails if another process won the race: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _private(path: Path) -> None:
    """A secret written by an older version (mode 0644) becomes 0600."""
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def ensure_keypair(base: Path) -> None:
    """Create ``base.pem`` (private, mode 0600) and ``base.pub.pem`` (public) if missing."""
    priv_path, pub_path = base.with_suffix(".pem"), base.with_suffix(".pub.pem")
    if not priv_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_atomic(
            priv_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            mode=0o600,
        )
    else:
        _private(priv_path)
    if not pub_path.exists():
        key = load_private(priv_path)
        _write_atomic(
            pub_path,
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        )


def ensure_keys(instance_path: str) -> None:
    """Generate every merchant and platform key pair, and the WeChat APIv3 key, on first run."""
    root = Path(instance_path)
    for rel in (*MERCHANT_KEYS.values(), *PLATFORM_KEYS.values()):
        ensure_keypair(root / rel)
    if not (root / APIV3_KEY).exists():
        _write_atomic(root / APIV3_KEY, secrets.token_hex(16).encode(), mode=0o600)
    else:
        _private(root / APIV3_KEY)


@cache
def _load_private(path: str, mtime_ns: int) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@cache
def _load_public(path: str, mtime_ns: int) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def load_private(path: str | Path) -> rsa.RSAPrivateKey:
    """Read a PEM private key (parsed once per file version)."""
    p = Path(path).resolve()
    return _load_private(str(p), p.stat().st_mtime_ns)


class LazyPrivateKey:
    """A private key parsed at its first use, not when the adapter is built: a worker boots without paying
    ~50 ms per key, and a process that never signs never parses (the file must exist now)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.stat()  # a missing key file is a configuration error at boot, not at the first payment

    def sign(self, data: bytes, pad: padding.AsymmetricPadding, algorithm: hashes.HashAlgorithm) -> bytes:
        """Sign as the parsed key does."""
        return load_private(self.path).sign(data, pad, algorithm)

    def public_key(self) -> rsa.RSAPublicKey:
        """The parsed key's public half."""
        return load_private(self.path).public_key()


def load_public(path: str | Path) -> rsa.RSAPublicKey:
    """Read a PEM public key (parsed once per file version)."""
    p = Path(path).resolve()
    return _load_public(str(p), p.stat().st_mtime_ns)


def public_pem(key: rsa.RSAPublicKey) -> str:
    """The key as PEM text (SubjectPublicKeyInfo)."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_serial(key: rsa.RSAPublicKey) -> int:
    """A stable serial number for a key (the simulations' stand-in for a certificate serial)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return int.from_bytes(hashlib.sha256(der).digest()[:8], "big")


def wechat_public_key_id(key: rsa.RSAPublicKey) -> str:
    """WeChat Pay's ``PUB_KEY_ID_…`` naming of its platform public key (sent as Wechatpay-Serial)."""
    return f"PUB_KEY_ID_01{key_serial(key):020d}"


def rsa_sign(key: rsa.RSAPrivateKey | LazyPrivateKey, message: str) -> str:
    """SHA256withRSA, base64."""
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature: str) -> None:
    """Raise SignatureError unless ``signature`` signs ``message``."""
    try:
        key.verify(base64.b64decode(signature, validate=True), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as e:
        raise SignatureError("signature does not verify") from e


def sign_string(params: Mapping[str, str], exclude: tuple[str, ...]) -> str:
    """``a=1&b=2``: non-empty params, sorted by key, without the signature fields."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k] != "")


def unionpay_digest(params: Mapping[str, str]) -> str:
    """UnionPay 5.1.0 (signMethod 01): the SHA-256 hex digest of the sorted string, which is what gets signed."""
    return hashlib.sha256(sign_string(params, ("signature",)).encode()).hexdigest()


def unionpay_sign(key: rsa.RSAPrivateKey | LazyPrivateKey, params: Mapping[str, str]) -> str:
    """``signature`` of a UnionPay 5.1.0 message: RSA-SHA256 over the hex digest, base64."""
    return rsa_sign(key, unionpay_digest(params))


def unionpay_verify(key: rsa.RSAPublicKey, params: Mapping[str, str]) -> None:
    """Raise SignatureError unless the message's ``signature`` is UnionPay 5.1.0's over its fields."""
    rsa_verify(key, unionpay_digest(params), params.get("signature", ""))


def aes_gcm_encrypt(key: bytes, nonce: str, associated: str, plaintext: bytes) -> str:
    """WeChat's resource encryption: AES-256-GCM, base64 of ciphertext+tag."""
    return base64.b64encode(AESGCM(key).encrypt(nonce.encode(), plaintext, associated.encode())).decode()


def aes_gcm_decrypt(key: bytes, nonce: str, associated: str, ciphertext: str) -> bytes:
    """Undo ``aes_gcm_encrypt``; a wrong key or tampered text raises SignatureError."""
    try:
        return AESGCM(key).decrypt(nonce.encode(), base64.b64decode(ciphertext), associated.encode())
    except (InvalidTag, ValueError) as e:
        raise SignatureError("resource does not decrypt") from e


def nonce() -> str:
    """A random 32-char nonce."""
    return secrets.token_hex(16).upper()
