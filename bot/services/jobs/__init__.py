"""Generations as durable jobs: accepted into a PostgreSQL queue (pgqueuer) in the transaction
that charges them, taken up by a worker in this process or another, taken up again when their
worker dies, posted once."""
