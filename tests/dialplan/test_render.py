"""The rendered Asterisk configuration: both DIDs reach the AGI server, secrets stay out."""

from __future__ import annotations

from pathlib import Path

import pytest
from asterisk.config import Config

from ivr.config.settings import Settings
from ivr.deploy.stack import dialplan_values, write_asterisk_config


@pytest.fixture
def rendered(tmp_path) -> Path:
    settings = Settings.from_env(
        {
            "IVR_STATE_DIR": str(tmp_path),
            "IVR_SIP_PORT": "5070",
            "IVR_AGI_PORT": "4600",
            "IVR_AMI_PORT": "5100",
        }
    )
    out = tmp_path / "etc"
    out.mkdir()
    write_asterisk_config(
        out,
        dialplan_values(
            settings, moddir="/usr/lib/x/asterisk/modules", ami_secret="s3cret", agi_secret="a9"
        ),
    )
    return out


def _items(path: Path, section: str) -> list[tuple[str, str]]:
    """pyst2's parser knows no `#` directives (#tryinclude): it reads a copy without them."""
    plain = path.with_name(path.name + ".plain")
    lines = path.read_text().splitlines(keepends=True)
    plain.write_text("".join(line for line in lines if not line.startswith("#")))
    config = Config(str(plain))
    return [
        (i.name.strip(), i.value.strip())
        for c in config.categories
        if c.name == section
        for i in c.items
    ]


def test_both_dids_go_to_the_agi_server(rendered):
    entry = _items(rendered / "extensions.conf", "tmp-password-in")
    assert ("exten", "0664806430,1,Goto(tmp-password,${EXTEN},1)") in entry
    assert ("exten", "0363044747,1,Goto(tmp-password,${EXTEN},1)") in entry
    flow = [v for _n, v in _items(rendered / "extensions.conf", "tmp-password")]
    agi = "n(agi),AGI(agi://${CUT(IVR_AGI_SERVERS,&,${IVR_AGI_N})}/tmp-password,a9)"
    assert agi in flow  # the shared secret as the first argument, never in the URL
    globals_ = dict(_items(rendered / "extensions.conf", "globals"))
    assert globals_["IVR_AGI_SERVERS"] == "127.0.0.1:4600"
    assert "n,Playback(tpw/sorry)" in flow  # the apology when the server is unreachable


def test_ports_and_no_template_sections(rendered):
    assert ("bind", "127.0.0.1:5070") in _items(rendered / "pjsip.conf", "transport-udp")
    assert ("port", "5100") in _items(rendered / "manager.conf", "general")
    text = (rendered / "asterisk.conf").read_text()
    assert "[directories]\n" in text and "[directories](!)" not in text
    for conf in rendered.glob("*.conf"):
        assert "@{" not in conf.read_text(), conf.name


def test_keys_never_reach_asterisk_logs(rendered):
    options = dict(_items(rendered / "asterisk.conf", "options"))
    assert int(options["verbose"]) < 3  # Read() prints "User entered '…'" at verbose 3
    logfiles = dict(_items(rendered / "logger.conf", "logfiles"))
    assert all("dtmf" not in v and "verbose" not in v for v in logfiles.values())


def test_trunk_trusts_pai_and_takes_rfc4733(rendered):
    trunk = _items(rendered / "pjsip.conf", "trunk")
    assert ("trust_id_inbound", "yes") in trunk
    assert ("dtmf_mode", "auto") in trunk
    assert ("media_address", "127.0.0.1") in trunk
    assert ("match", "127.0.0.1") in trunk


def test_files_are_private_and_ami_carries_no_keys(rendered):
    for conf in rendered.glob("*.conf"):
        assert conf.stat().st_mode & 0o777 == 0o600, conf.name
    ami = dict(_items(rendered / "manager.conf", "ivr"))
    classes = set(ami["read"].split(","))
    assert not classes & {"dialplan", "agi", "dtmf", "all"}  # VarSet, AGIExec*, DTMF events
    assert ami["secret"] == "s3cret"


def test_silence_is_sent_while_waiting_for_keys(rendered):
    """No dead air during Read(): see tests/e2e/test_media_flow.py for the measurement."""
    options = dict(_items(rendered / "asterisk.conf", "options"))
    assert options["transmit_silence"] == "yes"


def test_asterisk_metrics_on_loopback_and_step_in_channel_events(rendered):
    http = dict(_items(rendered / "http.conf", "general"))
    assert (http["enabled"], http["bindaddr"], http["bindport"]) == ("yes", "127.0.0.1", "8088")
    assert http["enablestatic"] == "no"
    assert dict(_items(rendered / "prometheus.conf", "general"))["enabled"] == "yes"
    modules = [v for n, v in _items(rendered / "modules.conf", "modules") if n == "load"]
    assert "res_prometheus.so" in modules
    # the step and the number dialled only: never IVRKEYS (what the caller keyed)
    assert ("channelvars", "IVR_STEP,IVR_DID") in _items(rendered / "manager.conf", "general")


def test_agi_servers_in_order_and_rtp_range(tmp_path):
    settings = Settings.from_env({"IVR_STATE_DIR": str(tmp_path)})
    write_asterisk_config(
        tmp_path,
        dialplan_values(
            settings,
            moddir="/m",
            ami_secret="s",
            agi_secret="a",
            agi_servers=["127.0.0.1:4001", "127.0.0.1:4002"],
            rtp=(30000, 30999),
        ),
    )
    globals_ = dict(_items(tmp_path / "extensions.conf", "globals"))
    assert globals_["IVR_AGI_SERVERS"] == "127.0.0.1:4001&127.0.0.1:4002"
    rtp = dict(_items(tmp_path / "rtp.conf", "general"))
    assert (rtp["rtpstart"], rtp["rtpend"]) == ("30000", "30999")


def test_site_additions_are_optional(rendered):
    """The last line includes extensions_local.conf only if it exists (no error otherwise)."""
    text = (rendered / "extensions.conf").read_text()
    assert text.rstrip().splitlines()[-1] == "#tryinclude extensions_local.conf"
    assert not (rendered / "extensions_local.conf").exists()
