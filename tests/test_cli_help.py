"""What a user sees from `autodialer --help` and `autodialer serve --help`: what the program is, each flag, its
default and how to bind elsewhere than every address."""

from __future__ import annotations

import pytest

from autodialer.cli import build_parser, main


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_top_level_help_is_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert text.startswith("usage: autodialer")
    assert "Outbound auto-dialer and voice polls for Asterisk-based PBXs" in text
    assert "autodialer serve" in text and "autodialer sim" in text and "docs/api-v1.md" in text
    assert "Thin: parses flags" not in text and "bootstrap" not in text


def test_serve_help_explains_each_flag_and_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "serve")
    for flag, words in {
        "--host ADDRESS": "AUTODIALER_HTTP_HOST, else 0.0.0.0",
        "--port PORT": "AUTODIALER_HTTP_PORT, else 8080",
        "--ami-trace": "AUTODIALER_AMI_TRACE=true",
        "-v, --verbose": "not SQL",
    }.items():
        assert flag in text and words in text, flag
    assert "127.0.0.1 = this host only" in text


def test_serve_flags_parse(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["serve", "--host", "127.0.0.1", "--port", "8081", "--ami-trace", "-v"])
    assert (args.host, args.port, args.ami_trace, args.verbose) == ("127.0.0.1", 8081, True, True)
    assert build_parser().parse_args(["serve"]).verbose is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--port", "70000"])
    assert "must be a TCP port 0..65535" in capsys.readouterr().err
