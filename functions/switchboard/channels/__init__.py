"""One module per channel: inbound normalizing, outbound sending, signature checks.

The only place provider SDKs are imported.
"""
