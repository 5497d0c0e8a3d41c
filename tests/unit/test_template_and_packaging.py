"""template.yaml, the code's key schema and the package lists must agree."""

from __future__ import annotations

import re
import tomllib

from local_stack.paths import REPO_ROOT
from local_stack.resources import create_table_request
from local_stack.template import Template
from switchboard.store import keys


def test_the_table_in_template_yaml_has_the_key_schema_the_code_uses():
    (logical_id, table), = Template().tables().items()
    request = create_table_request(logical_id, table)
    types = {d["AttributeName"]: d["AttributeType"] for d in request["AttributeDefinitions"]}

    def schema(key_schema):
        return {k["AttributeName"]: types[k["AttributeName"]] for k in key_schema}

    assert schema(request["KeySchema"]) == keys.TABLE_SCHEMA["key"]
    assert [k["KeyType"] for k in request["KeySchema"]] == ["HASH", "RANGE"]
    assert {i["IndexName"]: schema(i["KeySchema"]) for i in request["GlobalSecondaryIndexes"]} == keys.TABLE_SCHEMA["indexes"]
    assert table["TimeToLiveSpecification"]["AttributeName"] == keys.TABLE_SCHEMA["ttl_attribute"]
    assert request["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_every_function_handler_exists_and_every_function_has_a_sample_event():
    import importlib.util

    for logical_id, function in Template().functions().items():
        module = function.handler.rpartition(".")[0]
        assert importlib.util.find_spec(module) is not None, f"{logical_id}: no module {module}"
        event = REPO_ROOT / "events" / f"{module.rpartition('.')[2]}.json"
        assert event.is_file(), f"{logical_id}: no sample event {event.relative_to(REPO_ROOT)}"
        source = (REPO_ROOT / "functions" / (module.replace(".", "/") + ".py")).read_text()
        assert f"def {function.handler.rpartition('.')[2]}(" in source


def test_requirements_txt_matches_pyproject_dependencies():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    declared = sorted(pyproject["project"]["dependencies"])
    lines = (REPO_ROOT / "functions" / "requirements.txt").read_text().splitlines()
    required = sorted(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    assert required == declared


def test_runtime_is_python_312_or_newer():
    runtime = Template().document["Globals"]["Function"]["Runtime"]
    assert re.fullmatch(r"python3\.(\d+)", runtime) and int(runtime.split(".")[1]) >= 12


def test_only_our_own_receipt_rule_can_invoke_the_email_function_and_mail_arrives_over_tls():
    template = Template()
    resources = template.resources
    permission = resources["EmailFunctionSesPermission"]["Properties"]
    rule_set = resources["ReceiptRuleSet"]["Properties"]["RuleSetName"]["Fn::Sub"]
    rule = resources["ReceiptRule"]["Properties"]["Rule"]
    source_arn = permission["SourceArn"]["Fn::Sub"]
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert source_arn.endswith(f":receipt-rule-set/{rule_set}:receipt-rule/{rule['Name']['Fn::Sub']}")
    assert "*" not in source_arn
    assert rule["TlsPolicy"] == {"Ref": "InboundEmailTls"}
    assert template.parameters["InboundEmailTls"]["Default"] == "Require"


def test_a_deploy_with_default_parameters_is_refused_naming_what_is_missing():
    from local_stack.stack import LOCAL_PARAMETERS
    from local_stack.template import Resolver

    template = Template()
    failures = Resolver(template, {"PublicUrl": "https://support.example.com"}).rule_failures()
    assert any("TwilioAccountSid" in failure for failure in failures)
    assert any("TwilioSender" in failure for failure in failures)
    assert any("SupportEmailAddress" in failure for failure in failures)
    assert any("XSupportAccount" in failure for failure in failures)
    assert any("AlarmEmail" in failure for failure in failures)
    complete = {
        "AlarmEmail": "oncall-alarms@example.com",
        "PublicUrl": "https://support.example.com",
        "TwilioAccountSid": "AC" + "0" * 32,
        "TwilioSender": "+14155550100",
        "SupportEmailAddress": "support@example.com",
        "XDelivery": "off",
    }
    assert Resolver(template, complete).rule_failures() == []
    assert Resolver(template, {"PublicUrl": "http://127.0.0.1:3000", **LOCAL_PARAMETERS}).rule_failures() == [], "the local stack's own"
    # Every sender gets each delivery choice and what it needs.
    for function_id in ("SenderFunction", "NoticeSenderFunction"):
        environment = template.functions()[function_id].environment
        assert {"SMS_DELIVERY", "TWILIO_ACCOUNT_SID", "TWILIO_SENDER", "EMAIL_DELIVERY", "X_DELIVERY", "X_SUPPORT_ACCOUNT"} <= set(environment)


def test_the_email_function_may_list_the_mail_bucket_so_a_missing_raw_mail_reads_as_missing():
    """S3 answers GetObject of a missing key with AccessDenied unless the caller may list the
    bucket; the local stack cannot show that, so the grant itself is checked."""
    from iam_grants import Call, refused

    bucket = "arn:aws:s3:::switchboard-local-mailbucket"
    assert refused("EmailFunction", [Call("s3:ListBucket", bucket), Call("s3:GetObject", f"{bucket}/inbound/abc")]) == []
    assert refused("EmailFunction", [Call("s3:GetObject", f"{bucket}/attachments/abc")]), "and no more than that"


def test_every_dead_letter_queue_and_every_function_that_can_lose_work_has_an_alarm_someone_hears():
    resources = Template().resources
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms and all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())
    watched_queues = {a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms.values() if a.get("Namespace") == "AWS/SQS"}
    dead_letter_queues = {name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue" and name.endswith("DeadLetterQueue")}
    assert dead_letter_queues and watched_queues == dead_letter_queues
    watched_functions = {
        metric["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for a in alarms.values()
        for metric in a.get("Metrics", [])
        if "MetricStat" in metric
    }
    functions = Template().functions()
    must_be_watched = {
        name for name, spec in functions.items()
        if spec.events_of_type("SQS", "DynamoDB", "ScheduleV2") or name in ("SmsWebhookFunction", "VoiceWebhookFunction", "StatusWebhookFunction", "EmailFunction")
    }
    assert must_be_watched <= watched_functions
    # Our own metrics that alarms watch are ones the code emits.
    code = "".join(path.read_text() for path in (REPO_ROOT / "functions" / "switchboard").rglob("*.py"))
    for alarm in alarms.values():
        if alarm.get("Namespace") == "Switchboard":
            assert f'name="{alarm["MetricName"]}"' in code, alarm["MetricName"]
    # Nobody hears nothing: the email subscription, and a Rule that asks who.
    assert resources["AlarmEmailSubscription"]["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert "AlarmsNeedSomeoneToHearThem" in Template().document["Rules"]
