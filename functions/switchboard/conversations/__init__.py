"""Customers, identities, conversations and messages: the stream."""
