"""On call: schedules, escalation policies, pages, agent commands by SMS."""
