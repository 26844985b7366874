"""infra/statemachines/sla.asl.json: the one definition deployed, run locally and tested.
cfn-lint does not look inside DefinitionString, so its consistency is checked here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.aws import substitute

ASL = Path(__file__).resolve().parents[2] / "infra" / "statemachines" / "sla.asl.json"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:kefu-local-sla_check"


def _definition() -> dict:  # type: ignore[type-arg]
    return json.loads(substitute(ASL.read_text(), {"SlaCheckFunctionArn": ARN}))


def test_every_transition_names_a_state_and_every_state_is_reached() -> None:
    states = _definition()["States"]
    targets = {_definition()["StartAt"]}
    for state in states.values():
        targets.add(state.get("Next") or state.get("Default") or "")
        targets.update(choice["Next"] for choice in state.get("Choices", []))
    targets.discard("")
    assert targets == set(states)


def test_the_loop_waits_on_a_timestamp_and_ends_when_the_task_says_done() -> None:
    states = _definition()["States"]
    assert states["WaitForDeadline"] == {"Type": "Wait", "TimestampPath": "$.wake_at", "Next": "CheckTicket"}
    assert states["CheckTicket"]["Resource"] == ARN
    assert states["MoreToDo"]["Choices"] == [{"Variable": "$.done", "BooleanEquals": True, "Next": "Done"}]


def test_moto_parses_it() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(json.dumps(_definition()))
    assert program is not None


def test_an_unknown_substitution_is_an_error() -> None:
    with pytest.raises(KeyError):
        substitute(ASL.read_text(), {})
