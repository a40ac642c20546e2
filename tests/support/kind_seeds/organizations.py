"""AWS::Organizations::Account: an organization with two member accounts (management account only)."""


def seed_account(client_factory, account_id, region):
    """Creates the organization when missing and two member accounts; returns their account ids.

    Identifier in the aws-v3 mapping: `.Properties.Id`. Run it with the management account: moto makes
    the caller the management account of the new organization.
    """
    org = client_factory("organizations", account_id, region)
    try:
        org.describe_organization()
    except org.exceptions.AWSOrganizationsNotInUseException:
        org.create_organization(FeatureSet="ALL")
    ids = []
    for name in ("seed-dev", "seed-prod"):
        status = org.create_account(Email=f"{name}-{account_id}@example.com", AccountName=name)
        ids.append(status["CreateAccountStatus"]["AccountId"])
    for n, acct in enumerate(ids):
        org.tag_resource(ResourceId=acct, Tags=[{"Key": "seed", "Value": str(n)}])
    return ids
