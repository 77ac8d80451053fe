"""Use cases called by the Lambda entry points: domain logic + data access."""
