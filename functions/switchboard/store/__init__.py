"""DynamoDB and S3 access: the only code that knows key formats and indexes."""
