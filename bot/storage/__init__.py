"""SQL, one module per aggregate: functions take a connection and return domain objects."""
