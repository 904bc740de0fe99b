from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.commands.conftest import Cli

PASSPHRASE = "wifi-key-do-not-print"
SIP_PASSWORD = "sip-pw-do-not-print"
ACS_PASSWORD = "acs-pw-do-not-print"

PROFILES = f"""
profiles:
  - name: gold
    services: [internet, voip]
    wifi:
      ssid: GoldNet
      passphrase: {PASSPHRASE}
      security: WPA2-Personal
      bands: [2.4GHz, 5GHz]
    vlans: {{internet: 100, voip: 200}}
    voip_lines:
      - registrar: sip.example.net
        proxy: proxy.example.net
        user: line1
        password: {SIP_PASSWORD}
    extra_parameters:
      - name: Device.ManagementServer.ConnectionRequestPassword
        value: {ACS_PASSWORD}
      - name: Device.Time.NTPServer1
        value: ntp.example.net
  - name: "customer:C42"
    services: [internet]
"""

SECRETS = (PASSPHRASE, SIP_PASSWORD, ACS_PASSWORD)


def _write(tmp_path: Path, text: str, name: str = "profiles.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_list_show_with_secrets_masked(cli: Cli, tmp_path: Path) -> None:
    imported = cli("profiles", "import", str(_write(tmp_path, PROFILES)))
    assert imported.code == 0, imported.err
    assert "2 created, 0 updated, 0 unchanged" in imported.out

    listed = cli("profiles", "list")
    assert listed.code == 0
    rows = listed.out.splitlines()
    assert rows[1].split()[:3] == ["customer:C42", "1", "internet"]
    assert rows[2].split()[:4] == ["gold", "1", "internet,voip", "GoldNet"]

    shown = cli("profiles", "show", "gold")
    assert shown.code == 0
    document = yaml.safe_load(shown.out)
    assert document["wifi"]["passphrase"] == "********"
    assert document["voip_lines"][0]["password"] == "********"
    extras = {e["name"]: e["value"] for e in document["extra_parameters"]}
    assert extras == {
        "Device.ManagementServer.ConnectionRequestPassword": "********",
        "Device.Time.NTPServer1": "ntp.example.net",
    }
    assert document["wifi"]["ssid"] == "GoldNet"
    for output in (imported.out, listed.out, shown.out, shown.err):
        assert not any(secret in output for secret in SECRETS)


def test_reimport_unchanged_and_json_output(cli: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path, PROFILES)
    assert cli("profiles", "import", str(path)).code == 0
    again = cli("profiles", "import", str(path), "--json")
    assert again.code == 0
    result = json.loads(again.out)
    assert result["imported"] is True
    assert {p["name"]: p["status"] for p in result["profiles"]} == {
        "gold": "unchanged",
        "customer:C42": "unchanged",
    }

    listed = json.loads(cli("profiles", "list", "--json").out)
    assert [(p["name"], p["version"], p["services"]) for p in listed] == [
        ("customer:C42", "1", ["internet"]),
        ("gold", "1", ["internet", "voip"]),
    ]
    shown = json.loads(cli("profiles", "show", "gold", "--json").out)
    assert shown["wifi"]["passphrase"] == "********"
    assert shown["version"] == "1"


def test_import_json_file(cli: Cli, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        json.dumps([{"name": "basic", "services": ["internet"], "vlans": {"internet": 7}}]),
        "profiles.json",
    )
    assert cli("profiles", "import", str(path)).code == 0
    assert yaml.safe_load(cli("profiles", "show", "basic").out)["vlans"] == {"internet": 7}


def test_bad_file_imports_nothing_and_lists_every_problem(cli: Cli, tmp_path: Path) -> None:
    bad = PROFILES.replace("bands: [2.4GHz, 5GHz]", "bands: [7GHz]").replace(
        "services: [internet]", "services: [internet, fax]"
    )
    result = cli("profiles", "import", str(_write(tmp_path, bad)))

    assert result.code == 2
    assert "nothing imported, 2 problem(s)" in result.err
    assert "profiles[0] 'gold': wifi.bands[0]" in result.err
    assert "profiles[1] 'customer:C42': services[1]" in result.err
    assert not any(secret in result.err + result.out for secret in SECRETS)
    assert not (cli.data_dir / "traceacs.db").exists()


def test_show_unknown_profile_is_exit_4_not_found(cli: Cli, tmp_path: Path) -> None:
    assert cli("profiles", "import", str(_write(tmp_path, PROFILES))).code == 0
    result = cli("profiles", "show", "platinum")
    assert result.code == 4
    assert "no profile named 'platinum'" in result.err
