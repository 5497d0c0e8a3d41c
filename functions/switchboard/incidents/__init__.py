"""Status-page incidents: the incident model, subscribers, notices and opt-outs."""
