"""Give every Lambda function of a packaged template the role defined in infra/template.yaml.

`chalice package --merge-template infra/template.yaml` deep-merges our resources into
Chalice's template; that covers everything except each function's Role. With
`manage_iam_role: false`, Chalice copies `iam_role_arn` from .chalice/config.json into every
function verbatim, so it cannot be a `!GetAtt`, and SAM's Globals cannot set Role. This
script swaps that placeholder for `!GetAtt FunctionRole.Arn` and nothing else.

    python infra/merge.py build/package/dev/sam.yaml     (rewrites the file in place)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLE_RESOURCE = "FunctionRole"


class _NoAliasDumper(yaml.SafeDumper):
    """CloudFormation rejects YAML aliases; write shared objects out in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def placeholder_role() -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return str(config["iam_role_arn"])


def attach_function_role(template: dict[str, Any], placeholder: str) -> list[str]:
    """Point each AWS::Serverless::Function at ROLE_RESOURCE; return the functions' names."""
    resources = template["Resources"]
    if resources.get(ROLE_RESOURCE, {}).get("Type") != "AWS::IAM::Role":
        raise SystemExit(f"merge.py: no AWS::IAM::Role {ROLE_RESOURCE!r}; was infra/template.yaml merged?")
    functions = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function")
    for name in functions:
        properties = resources[name]["Properties"]
        if properties.get("Role") != placeholder:
            raise SystemExit(f"merge.py: {name}.Role is {properties.get('Role')!r}, expected the "
                             f"placeholder {placeholder!r} from .chalice/config.json")
        properties["Role"] = {"Fn::GetAtt": [ROLE_RESOURCE, "Arn"]}
    return functions


ASL_PLACEHOLDER = "kefu-asl-file:"


def inline_state_machines(template: dict[str, Any]) -> list[str]:
    """Replace each state machine's `DefinitionString: "kefu-asl-file:<path under infra/>"`
    with that file's JSON: the very ASL file moto runs locally is what CloudFormation deploys."""
    inlined = []
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource["Properties"]
        reference = properties.get("DefinitionString")
        if not (isinstance(reference, str) and reference.startswith(ASL_PLACEHOLDER)):
            continue
        path = ROOT / "infra" / reference[len(ASL_PLACEHOLDER):]
        definition = json.loads(path.read_text(encoding="utf-8"))  # fails loudly on a broken file
        properties["DefinitionString"] = json.dumps(definition, separators=(",", ":"))
        inlined.append(name)
    return inlined


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    path = Path(argv[0])
    template = yaml.safe_load(path.read_text(encoding="utf-8"))
    functions = attach_function_role(template, placeholder_role())
    machines = inline_state_machines(template)
    path.write_text(yaml.dump(template, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    print(f"merge.py: {', '.join(functions)} -> {ROLE_RESOURCE}; ASL inlined into {', '.join(machines) or 'nothing'}")


if __name__ == "__main__":
    main(sys.argv[1:])
