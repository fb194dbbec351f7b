"""The cross-account inbox: every request routed to a person's teams, whichever account
raised it, fetched live from each trusting node and merged by SLA urgency."""
