"""Step Functions (botocore service `stepfunctions`): AWS::StepFunctions::StateMachine."""

import json

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def seed_stepfunctions_state_machine(client_factory, account_id, region):
    """Creates two state machines, one tagged; returns their ARNs (`.Properties.stateMachineArn`)."""
    sfn = client_factory("stepfunctions")
    role = f"arn:aws:iam::{account_id}:role/seed-states"
    arns = []
    for name, tags in (("order-fulfilment", [{"key": "team", "value": "orders"}]), ("nightly-report", [])):
        made = sfn.create_state_machine(name=name, definition=DEFINITION, roleArn=role, tags=tags)
        arns.append(made["stateMachineArn"])
    return arns


KINDS = {
    "AWS::StepFunctions::StateMachine": seed_stepfunctions_state_machine,
}
