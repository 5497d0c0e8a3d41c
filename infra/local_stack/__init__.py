"""The local stack: DynamoDB Local, moto's AWS endpoints, and a gateway serving
template.yaml's routes, so Switchboard runs and is tested without an AWS account."""
