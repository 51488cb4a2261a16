"""`autodialer sim` takes every simulator flag, shows their defaults, runs our dialplan, and refuses a bad scenario
file in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autodialer.cli import build_parser, main
from autodialer.cli_sim import product_dialplan
from autodialer.simulator.options import config_from_args, scenario_from_args
from autodialer.simulator.scenario import OUTCOMES, ScenarioError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "simulator").glob("*.json"))


def test_every_simulator_flag_is_accepted_after_sim() -> None:
    flags = (
        "--scenario f.json --ami-port 0 --agi-port 4600 --time-scale 0.5 --ami-username autodialer --ami-secret s3cret"
    )
    flags += " --control-port 8099 --originate-rate 850 --ami-read system,call --ami-write originate --host 0.0.0.0"
    args = build_parser().parse_args(["sim", *flags.split()])
    config = config_from_args(args, default_dialplan=product_dialplan())
    assert (config.ami_port, config.agi_port, config.time_scale, config.originate_rate) == (0, 4600, 0.5, 850.0)
    assert (config.username, config.secret, config.host, config.control_http_port) == (
        "autodialer",
        "s3cret",
        "0.0.0.0",
        8099,
    )
    assert (config.read_classes, config.write_classes, config.scenario_path) == (
        "system,call",
        "originate",
        Path("f.json"),
    )
    assert config.dialplan_text == product_dialplan() and config.dialplan_path is None


def test_sim_help_lists_the_flags_with_their_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sim", "-h"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in (
        "--ami-port",
        "--ami-username",
        "--ami-secret",
        "--agi-host",
        "--agi-port",
        "--dialplan",
        "--scenario",
        "--time-scale",
        "--originate-rate",
        "--control-port",
        "--ami-read",
        "--ami-write",
        "--host",
    ):
        assert flag in text
    for default in (
        "(default: 5038)",
        "(default: dialer)",
        "(default: dialerpass)",
        "(default: 1.0)",
        "(default: all)",
    ):
        assert default in text


def test_a_given_dialplan_replaces_ours(tmp_path: Path) -> None:
    args = build_parser().parse_args(["sim", "--dialplan", str(tmp_path / "extensions.conf")])
    config = config_from_args(args, default_dialplan=product_dialplan())
    assert config.dialplan_path == tmp_path / "extensions.conf" and config.dialplan_text is None


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"customers": {"79522233446": {"outcom": "busy"}}}, "customers.79522233446: unknown key 'outcom'"),
        ({"customers": {"79522233446": {"outcome": "bussy"}}}, "unknown outcome 'bussy'"),
        ({"default_customer": {"answer_after": "soon"}}, "default_customer: could not convert string to float"),
        ({"customer": {}}, "scenario: unknown key 'customer'"),
    ],
)
def test_a_bad_scenario_file_is_one_line_naming_the_entry_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: object, expected: str
) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(body))
    assert main(["sim", "--scenario", str(path), "--ami-port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"autodialer sim: error: {path}: ") and expected in err, err


def test_an_unreadable_scenario_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    assert main(["sim", "--scenario", str(tmp_path / "missing.json")]) == 2
    assert main(["sim", "--scenario", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "missing.json: cannot read it" in err[0] and "bad.json: not valid JSON" in err[1]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_shipped_example_scenarios_load(path: Path) -> None:
    scenario = scenario_from_args(build_parser().parse_args(["sim", "--scenario", str(path)]))
    data = json.loads(path.read_text())
    for number in data.get("customers", {}):
        assert scenario.customer(number).outcome in OUTCOMES


def test_without_a_file_any_number_answers_and_hangs_up_later() -> None:
    scenario = scenario_from_args(build_parser().parse_args(["sim"]))
    anyone = scenario.customer("79522233446")
    assert anyone.outcome == "answer" and anyone.hangup_after is not None
    assert scenario.customer("5551486").outcome == "busy"  # the lab's numbers keep their behaviour


def test_scenario_errors_leave_the_scenario_unchanged() -> None:
    scenario = scenario_from_args(build_parser().parse_args(["sim"]))
    before = scenario.to_json()
    with pytest.raises(ScenarioError):
        scenario.update({"customers": {"1": {"outcome": "busy"}, "2": {"outcome": "nope"}}})
    assert scenario.to_json() == before
