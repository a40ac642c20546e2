"""AWS::SQS::Queue."""


def seed_queue(client_factory, account_id, region):
    """Creates a standard and a FIFO queue; returns their ARNs (`.Properties.QueueArn`)."""
    sqs = client_factory("sqs", account_id, region)
    arns = []
    for name, attrs in (("seed-orders", {}), ("seed-events.fifo", {"FifoQueue": "true"})):
        url = sqs.create_queue(QueueName=name, Attributes=attrs, tags={"seed": name})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        arns.append(arn)
    return arns
