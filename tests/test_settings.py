"""A job's settings, declared once (classit_eval.options): the command line and a call from
another job (`babylm run` -> AoA, fine-tuning) get the same defaults and the same checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from classit_eval.aoa.cli import AoaSettings
from classit_eval.errors import OptionError
from classit_eval.finetune.train import Settings
from classit_eval.options import Parser, add_options, settings_from


def test_the_parsed_defaults_are_the_declared_ones(tmp_path: Path) -> None:
    parser = Parser(prog="aoa")
    add_options(parser, AoaSettings)
    args = parser.parse_args(["--model", "m", "--output-dir", str(tmp_path)])
    assert settings_from(AoaSettings, args, prog="aoa") == AoaSettings(
        model="m", output_dir=tmp_path, prog="aoa")
    parser = Parser(prog="finetune")
    add_options(parser, Settings)
    assert settings_from(Settings, parser.parse_args([])) == Settings()
    no_grouping = settings_from(Settings, parser.parse_args(["--no-group-by-length"]))
    assert Settings().group_by_length and not no_grouping.group_by_length


@pytest.mark.parametrize(("make", "message"), [
    (lambda: AoaSettings(model="m", output_dir=Path("o"), batch_size=0),
     "--batch-size must be at least 1, not 0."),
    (lambda: AoaSettings(model="m", output_dir=Path("o"), mode="fast"),
     "--mode must be one of full, babylm2025, not 'fast'."),
    (lambda: Settings(learning_rate=0.0), "--learning-rate must be above 0, not 0.0."),
    (lambda: Settings(pooling="mean"), "--pooling must be one of auto, last, first"),
])
def test_a_call_is_checked_as_the_command_line_is(make, message: str) -> None:
    with pytest.raises(OptionError, match=message.replace(".", r"\.").replace("'", ".")):
        make()


def test_a_bad_value_on_the_command_line_is_one_line(tmp_path: Path, capsys) -> None:
    parser = Parser(prog="aoa")
    add_options(parser, AoaSettings)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--model", "m", "--output-dir", str(tmp_path), "--batch-size", "0"])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("aoa: error: argument --batch-size: 0 is not a positive integer")
