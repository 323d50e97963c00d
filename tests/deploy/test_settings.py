"""One configuration for every process (issue 16 item 1) and secrets kept to their owner (issue 17 D11):
``<INSTANCE_PATH>/settings.env`` written by `make run`'s first step, read by the app, the providers, the job
consumer and every ``flask`` command; APP_TODAY stored with its anchor; secret files 0600."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from webapp.config import load_config, settings_for_file, write_settings_file
from webapp.instance import prepare
from webapp.payments.crypto import ensure_keys


@pytest.fixture
def umask_022():
    """The usual umask of a shell, under which a plain write gives 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_D11_the_secret_key_and_every_private_key_are_written_0600(tmp_path, umask_022):
    """Was 0644: anyone on the machine could read the key that signs sessions and the merchants' private keys."""
    load_config(str(tmp_path), env={})  # generates secret_key
    ensure_keys(str(tmp_path))
    assert _mode(tmp_path / "secret_key") == 0o600
    private = [*tmp_path.glob("keys/*.pem"), *tmp_path.glob("sim/keys/*.pem")]
    secrets = [p for p in private if not p.name.endswith(".pub.pem")] + [tmp_path / "keys" / "wechat_apiv3.key"]
    assert len(secrets) == 9
    assert {p.name: _mode(p) for p in secrets} == {p.name: 0o600 for p in secrets}
    assert all(_mode(p) == 0o644 for p in private if p.name.endswith(".pub.pem"))  # public halves stay readable
    assert _mode(tmp_path / "keys") == 0o700


def test_D11_an_older_instances_0644_secrets_become_0600(tmp_path, umask_022):
    load_config(str(tmp_path), env={})
    ensure_keys(str(tmp_path))
    old = [tmp_path / "secret_key", tmp_path / "keys" / "wechat_merchant.pem", tmp_path / "keys" / "wechat_apiv3.key"]
    for p in old:
        p.chmod(0o644)
    load_config(str(tmp_path), env={})
    ensure_keys(str(tmp_path))
    assert [_mode(p) for p in old] == [0o600] * 3


def test_D11_the_settings_file_is_0600_it_may_hold_a_password(tmp_path, umask_022):
    env = {"DATABASE_URL": "postgresql://app:s3cret@db.internal/shebao", "SECRET_KEY": "k"}
    path = write_settings_file(str(tmp_path), settings_for_file(str(tmp_path), env, time.time()))
    assert _mode(path) == 0o600 and "s3cret" in path.read_text()


def test_a_command_beside_make_run_reads_its_settings_with_only_INSTANCE_PATH(tmp_path):
    """The bank a `flask batch-debit run` reaches is the one make run started (issue 16: it looked on 5001)."""
    env = {"PORT": "5310", "HOST": "127.0.0.1", "REDIS_URL": "redis://10.0.0.5:6379/2", "APP_TODAY": "2026-11-09"}
    write_settings_file(str(tmp_path), settings_for_file(str(tmp_path), env, time.time()))
    cfg = load_config(env={"INSTANCE_PATH": str(tmp_path)})
    assert cfg["BANK_BASE_URL"] == "http://127.0.0.1:5311/sim/bank"
    assert cfg["PUBLIC_BASE_URL"] == "http://127.0.0.1:5310" and cfg["REDIS_URL"] == "redis://10.0.0.5:6379/2"


def test_an_environment_variable_wins_over_the_settings_file(tmp_path):
    write_settings_file(str(tmp_path), {"PORT": "5310", "REGION": "beijing"})
    cfg = load_config(str(tmp_path), env={"REGION": "qingdao"})
    assert cfg["REGION"] == "qingdao" and cfg["PORT"] == 5310


def test_R_PA_6_every_process_reads_the_same_clock_however_late_it_starts(tmp_path):
    """APP_TODAY is stored with the moment make run read it: a command started later reads the clock running on
    from there, not 10:00 again (the batch debit's claims looked fresh because the command started its own clock)."""
    anchor = time.time() - 5400 - 30  # make run started an hour and a half ago (and half a minute)
    write_settings_file(str(tmp_path), {"APP_TODAY": "2026-11-09", "APP_TODAY_ANCHOR": f"{anchor:.3f}"})
    late = load_config(str(tmp_path), env={})["CLOCK"].now()  # type: ignore[attr-defined]
    assert late.strftime("%Y-%m-%d %H:%M") == "2026-11-09 11:30"  # 11:30:30, clear of the minute's edges
    # The processes make run starts have APP_TODAY in their environment too: the same pair, the same clock.
    same = load_config(str(tmp_path), env={"APP_TODAY": "2026-11-09"})["CLOCK"].now()  # type: ignore[attr-defined]
    assert abs((same - late).total_seconds()) < 5


def test_another_APP_TODAY_in_the_environment_starts_its_own_clock(tmp_path):
    write_settings_file(str(tmp_path), {"APP_TODAY": "2026-11-09", "APP_TODAY_ANCHOR": f"{time.time() - 3600:.3f}"})
    now = load_config(str(tmp_path), env={"APP_TODAY": "2026-11-22"})["CLOCK"].now()  # type: ignore[attr-defined]
    assert now.strftime("%Y-%m-%d %H:%M") == "2026-11-22 10:00"


def test_the_settings_file_holds_what_the_app_reads_and_nothing_else(tmp_path):
    env = {"PORT": "5600", "APP_TODAY": "2026-11-22", "EDITOR": "vim", "RATELIMIT_LOGIN": "5 per minute"}
    values = settings_for_file(str(tmp_path), env, 1796400000.0)
    assert values == {
        "PORT": "5600",
        "APP_TODAY": "2026-11-22",
        "RATELIMIT_LOGIN": "5 per minute",
        "APP_TODAY_ANCHOR": "1796400000.000",
    }


def test_a_relative_INSTANCE_PATH_names_one_folder_for_every_process(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(env={"INSTANCE_PATH": "inst"})["INSTANCE_PATH"] == str(tmp_path / "inst")


def test_prepare_creates_a_fresh_instance_folder_0700_with_its_settings(tmp_path, umask_022):
    folder = tmp_path / "a" / "new" / "instance"
    env = {"INSTANCE_PATH": str(folder), "PORT": "5698", "SIM_PORT": "5699", "SECRET_KEY": "x"}
    assert prepare(env) == []
    assert _mode(folder) == 0o700
    assert {p.name for p in folder.iterdir()} >= {"settings.env", "run", "log"}
    assert "PORT=5698" in (folder / "settings.env").read_text()
