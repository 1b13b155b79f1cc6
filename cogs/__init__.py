"""Discord adapters: each cog parses interactions, calls one service, renders the result."""
