"""Keyring behaviour: encryption round trip, wrong passphrase, file modes, armor, test backend."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chain.address import address_from_public_key
from chain.keystore import (
    KeyExists,
    KeyNotFound,
    Keyring,
    KeystoreError,
    WrongPassphrase,
    public_key,
)

PASS = "correct horse battery"
SEED = bytes(range(32))


def test_file_key_round_trips_through_its_passphrase(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    info = ring.add("alice", seed=SEED, passphrase=PASS)
    assert ring.seed("alice", PASS) == SEED
    assert info.address == address_from_public_key(public_key(SEED))
    assert ring.show("alice") == info
    assert ring.list() == [info]


def test_file_key_never_stores_the_seed_in_clear(tmp_path: Path) -> None:
    Keyring(tmp_path).add("alice", seed=SEED, passphrase=PASS)
    text = (tmp_path / "keyring-file" / "alice.json").read_text()
    assert SEED.hex() not in text
    assert json.loads(text)["crypto"]["kdf"]["name"] == "scrypt"


def test_wrong_passphrase_is_rejected(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    ring.add("alice", passphrase=PASS)
    with pytest.raises(WrongPassphrase):
        ring.seed("alice", "not the passphrase")


def test_key_file_is_private_to_its_owner(tmp_path: Path) -> None:
    Keyring(tmp_path).add("alice", passphrase=PASS)
    directory = tmp_path / "keyring-file"
    assert stat.S_IMODE((directory / "alice.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_record_copied_under_another_name_does_not_decrypt(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    ring.add("alice", passphrase=PASS)
    directory = tmp_path / "keyring-file"
    (directory / "mallory.json").write_text((directory / "alice.json").read_text())
    with pytest.raises(WrongPassphrase):
        ring.seed("mallory", PASS)


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="at least 8"):
        Keyring(tmp_path).add("alice", passphrase="short")


def test_test_backend_stores_unencrypted_and_says_so(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, "test")
    ring.add("bob", seed=SEED)
    record = json.loads((tmp_path / "keyring-test" / "bob.json").read_text())
    assert record["seed"] == SEED.hex()
    assert "UNENCRYPTED" in record["warning"]
    assert ring.seed("bob") == SEED


def test_duplicate_and_invalid_names_are_refused(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, "test")
    ring.add("bob")
    with pytest.raises(KeyExists):
        ring.add("bob")
    with pytest.raises(KeystoreError, match="invalid key name"):
        ring.add("../escape")


def test_delete_removes_the_key(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, "test")
    ring.add("bob")
    ring.delete("bob")
    assert ring.list() == []
    with pytest.raises(KeyNotFound):
        ring.show("bob")


def test_armor_moves_a_key_between_keyrings(tmp_path: Path) -> None:
    source = Keyring(tmp_path / "a")
    info = source.add("alice", seed=SEED, passphrase=PASS)
    armor = source.export_armor("alice", PASS, "export-secret")
    assert SEED.hex() not in armor
    target = Keyring(tmp_path / "b")
    imported = target.import_armor("alice2", armor, "export-secret", "another passphrase")
    assert imported.address == info.address
    assert target.seed("alice2", "another passphrase") == SEED


def test_armor_with_wrong_passphrase_is_rejected(tmp_path: Path) -> None:
    source = Keyring(tmp_path, "test")
    source.add("alice")
    armor = source.export_armor("alice", None, "export-secret")
    with pytest.raises(WrongPassphrase):
        Keyring(tmp_path / "b", "test").import_armor("alice", armor, "wrong-secret")
