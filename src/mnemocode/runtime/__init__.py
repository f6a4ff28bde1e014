"""The event-driven runtime: one set of protocols; backends asyncio, SQLite,
Redis and NATS JetStream."""
