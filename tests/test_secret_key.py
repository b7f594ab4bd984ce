"""Without SECRET_KEY in the environment, the key kept in instance/ is one key for every process
of the machine: gunicorn's workers start at once and race to write it, and none may keep a key
of its own (its sessions would be refused by the others) or read a half-written one."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import config


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty instance folder and no SECRET_KEY in the environment."""
    monkeypatch.setattr(config, "INSTANCE", tmp_path)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    return tmp_path


def test_the_first_process_writes_the_key_and_the_next_reads_it(instance):
    key = config._secret_key()
    assert len(key) == 64  # 48 random bytes in base64
    assert config._secret_key() == key
    stored = instance / "secret_key"
    assert stored.read_text() == key and oct(stored.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in instance.iterdir()] == ["secret_key"]  # no temporary file left


def test_a_key_another_process_wrote_meanwhile_is_the_one_used(instance, monkeypatch):
    """The other process wrote its key between this one's look and its write: this one takes
    that key rather than replacing it (the other has already read it)."""
    (instance / "secret_key").write_text("the-other-process-key")
    looked = Path.exists
    monkeypatch.setattr(Path, "exists",
                        lambda path: path.name != "secret_key" and looked(path))
    assert config._secret_key() == "the-other-process-key"
    assert (instance / "secret_key").read_text() == "the-other-process-key"
    assert [p.name for p in instance.iterdir()] == ["secret_key"]
