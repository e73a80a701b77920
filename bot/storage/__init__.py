"""SQL, one module per aggregate. Functions take an aiosqlite connection and return domain objects."""
