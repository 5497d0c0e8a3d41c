"""The agents' pages: a conversation's whole history from the link in a page SMS, the
inbox, and signing in (handlers/agent_pages.py serves them)."""
