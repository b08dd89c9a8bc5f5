"""The conversation events API at /api/v1/ (docs/api.md): conversations, messages,
visitors, agents and labels for integrations, with the console's permissions."""
