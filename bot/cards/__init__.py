"""Character Card codec: V1/V2 JSON and PNG, with no database and no Discord."""
