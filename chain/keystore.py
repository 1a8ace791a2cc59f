"""The wallet's keyring: named ed25519 keys stored under ``<home>/keyring-<backend>/``.

Two backends:

- ``file`` (default): the 32-byte private seed is encrypted with a key derived from
  a passphrase by scrypt (parameters and salt stored in the file) and sealed with
  ChaCha20-Poly1305; the key name and public key are bound as associated data so a
  record cannot be renamed or spliced into another without failing to decrypt.
- ``test``: the seed is stored in clear. Only for throw-away localnets; every
  record says so in its ``warning`` field.

Each key is one JSON file ``<name>.json`` with mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chain.address import address_from_public_key

BACKENDS = ("file", "test")
PASSPHRASE_ENV = "OPTIO_KEYRING_PASSPHRASE"
ARMOR_TYPE = "optio-armored-key"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# scrypt N=2^15, r=8 costs ~32 MiB and a fraction of a second: interactive-grade.
SCRYPT_N = 1 << 15
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSPHRASE = 8
TEST_WARNING = "UNENCRYPTED test keyring: never hold real funds with these keys"


class KeystoreError(Exception):
    """A keyring operation failed for a reason the user can fix."""


class KeyNotFound(KeystoreError):
    """No key with that name."""


class KeyExists(KeystoreError):
    """A key with that name already exists."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not decrypt the key (or the record was tampered with)."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Public information about one stored key."""

    name: str
    address: str
    pubkey: bytes
    backend: str


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """KDF parameters stored beside each ciphertext so they can change later."""

    salt: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    def derive(self, passphrase: str) -> bytes:
        kdf = Scrypt(salt=self.salt, length=32, n=self.n, r=self.r, p=self.p)
        return kdf.derive(passphrase.encode())

    def to_json(self) -> dict[str, Any]:
        return {"name": "scrypt", "salt": self.salt.hex(), "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ScryptParams:
        if raw.get("name") != "scrypt":
            raise KeystoreError(f"unsupported key derivation {raw.get('name')!r}")
        return cls(salt=bytes.fromhex(raw["salt"]), n=int(raw["n"]), r=int(raw["r"]),
                   p=int(raw["p"]))


def address_of(pubkey: bytes) -> str:
    """The bech32 ``optio1…`` address of an ed25519 public key (chain/address.py)."""
    return address_from_public_key(pubkey)


def public_key(seed: bytes) -> bytes:
    """The raw 32-byte ed25519 public key of a 32-byte seed."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def parse_seed_hex(text: str) -> bytes:
    """A 32-byte seed from hex (optional 0x), with a readable error."""
    try:
        seed = bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError as exc:
        raise KeystoreError("the seed must be hex") from exc
    if len(seed) != 32:
        raise KeystoreError(f"the seed must be 32 bytes (64 hex digits), got {len(seed)}")
    return seed


def _aad(name: str, pubkey: bytes) -> bytes:
    return f"optio-key:{name}:{pubkey.hex()}".encode()


def encrypt_seed(seed: bytes, passphrase: str, aad: bytes,
                 params: ScryptParams | None = None) -> dict[str, Any]:
    """Seal ``seed`` under ``passphrase``; returns the JSON ``crypto`` section."""
    params = params or ScryptParams(salt=secrets.token_bytes(16))
    nonce = secrets.token_bytes(12)
    ciphertext = ChaCha20Poly1305(params.derive(passphrase)).encrypt(nonce, seed, aad)
    return {"kdf": params.to_json(), "cipher": "chacha20-poly1305", "nonce": nonce.hex(),
            "ciphertext": ciphertext.hex()}


def decrypt_seed(crypto: dict[str, Any], passphrase: str, aad: bytes) -> bytes:
    """Open a ``crypto`` section; ``WrongPassphrase`` if it does not authenticate."""
    if crypto.get("cipher") != "chacha20-poly1305":
        raise KeystoreError(f"unsupported cipher {crypto.get('cipher')!r}")
    key = ScryptParams.from_json(crypto["kdf"]).derive(passphrase)
    try:
        return ChaCha20Poly1305(key).decrypt(
            bytes.fromhex(crypto["nonce"]), bytes.fromhex(crypto["ciphertext"]), aad
        )
    except InvalidTag as exc:
        raise WrongPassphrase("wrong passphrase") from exc


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 from the start (never readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


class Keyring:
    """Named keys of one backend under ``<home>/keyring-<backend>/``."""

    def __init__(self, home: Path, backend: str = "file") -> None:
        if backend not in BACKENDS:
            raise KeystoreError(f"unknown keyring backend {backend!r} (use file or test)")
        self.backend = backend
        self.dir = Path(home).expanduser() / f"keyring-{backend}"

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise KeystoreError(
                f"invalid key name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
            )
        return self.dir / f"{name}.json"

    def _load(self, name: str) -> dict[str, Any]:
        path = self._path(name)
        if not path.exists():
            raise KeyNotFound(f"no key named {name!r} in {self.dir}")
        return json.loads(path.read_text())

    def has(self, name: str) -> bool:
        return self._path(name).exists()

    def add(self, name: str, seed: bytes | None = None, passphrase: str | None = None) -> KeyInfo:
        """Store a new key (random unless ``seed`` is given to recover one)."""
        path = self._path(name)
        if path.exists():
            raise KeyExists(f"a key named {name!r} already exists")
        seed = seed if seed is not None else secrets.token_bytes(32)
        pub = public_key(seed)
        record: dict[str, Any] = {"name": name, "type": "ed25519", "address": address_of(pub),
                                  "pubkey": pub.hex()}
        if self.backend == "file":
            if passphrase is None or len(passphrase) < MIN_PASSPHRASE:
                raise KeystoreError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
            record["crypto"] = encrypt_seed(seed, passphrase, _aad(name, pub))
        else:
            record["warning"] = TEST_WARNING
            record["seed"] = seed.hex()
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(path, json.dumps(record, indent=2) + "\n")
        return KeyInfo(name=name, address=record["address"], pubkey=pub, backend=self.backend)

    def show(self, name: str) -> KeyInfo:
        record = self._load(name)
        return KeyInfo(name=name, address=record["address"],
                       pubkey=bytes.fromhex(record["pubkey"]), backend=self.backend)

    def list(self) -> list[KeyInfo]:
        if not self.dir.is_dir():
            return []
        return [self.show(p.stem) for p in sorted(self.dir.glob("*.json"))]

    def seed(self, name: str, passphrase: str | None = None) -> bytes:
        """The private seed (decrypting with ``passphrase`` for the file backend)."""
        record = self._load(name)
        if self.backend == "test":
            return bytes.fromhex(record["seed"])
        if passphrase is None:
            raise KeystoreError(f"key {name!r} is encrypted: a passphrase is needed")
        pub = bytes.fromhex(record["pubkey"])
        seed = decrypt_seed(record["crypto"], passphrase, _aad(name, pub))
        if public_key(seed) != pub:
            raise KeystoreError(f"key file for {name!r} is corrupt (public key mismatch)")
        return seed

    def private_key(self, name: str, passphrase: str | None = None) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed(name, passphrase))

    def delete(self, name: str) -> None:
        path = self._path(name)
        if not path.exists():
            raise KeyNotFound(f"no key named {name!r} in {self.dir}")
        path.unlink()

    def export_armor(self, name: str, passphrase: str | None, export_passphrase: str) -> str:
        """The key re-encrypted under ``export_passphrase`` as a portable JSON armor."""
        seed = self.seed(name, passphrase)
        pub = public_key(seed)
        if len(export_passphrase) < MIN_PASSPHRASE:
            raise KeystoreError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
        armor = {"type": ARMOR_TYPE, "version": 1, "pubkey": pub.hex(),
                 "address": address_of(pub),
                 "crypto": encrypt_seed(seed, export_passphrase, _aad(ARMOR_TYPE, pub))}
        return json.dumps(armor, indent=2)

    def import_armor(self, name: str, armor: str, armor_passphrase: str,
                     passphrase: str | None = None) -> KeyInfo:
        """Store the key of an armor made by ``export_armor`` under ``name``."""
        try:
            raw = json.loads(armor)
            if raw.get("type") != ARMOR_TYPE:
                raise ValueError
            pub = bytes.fromhex(raw["pubkey"])
            crypto = raw["crypto"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeystoreError("not an Optio armored key") from exc
        seed = decrypt_seed(crypto, armor_passphrase, _aad(ARMOR_TYPE, pub))
        if public_key(seed) != pub:
            raise KeystoreError("armored key is corrupt (public key mismatch)")
        return self.add(name, seed=seed, passphrase=passphrase)
