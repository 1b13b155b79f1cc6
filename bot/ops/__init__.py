"""Operations: the command line, admin, doctor, health, metrics, logs, the event loop."""
