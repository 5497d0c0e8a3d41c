"""Switchboard: one conversation per customer across every channel, on AWS Lambda."""
