"""The fuzz test's parts: the bot's surface read from the running bot, value strategies, the
world the interactions run in, and the checks on every answer (see tests/test_fuzz.py)."""
