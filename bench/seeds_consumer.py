#!/usr/bin/python3
"""bench/seeds_consumer.py: the seeds' Candystore consumer, built the way the
seeds built it, as a baseline for bench/ingest.sh.

The seeds' consumer (Python, aio-pika, SQLAlchemy ORM) set prefetch_count=10,
parsed each message with json.loads, added one row through an ORM session,
committed, and only then acked; an exception rejected the message without
requeueing.  This does the same, into seeds_bench.events, a table shaped like
the seeds' model after their planned migration (source, correlation_ids,
agent_context and version as columns of their own).

    seeds_consumer.py AMQP_URL QUEUE COUNT PG_URL

PG_URL is an SQLAlchemy URL (postgresql+asyncpg://user@host:port/db).  Prints
the seconds from the start of consuming until COUNT messages were acked.
Debian packages: python3-aio-pika, python3-sqlalchemy, python3-asyncpg.
"""
import asyncio
import json
import sys
import time
from datetime import datetime

import aio_pika
from sqlalchemy import Column, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import declarative_base, sessionmaker

Base = declarative_base()


class Event(Base):
    __tablename__ = "events"
    __table_args__ = {"schema": "seeds_bench"}

    id = Column(UUID(as_uuid=True), primary_key=True)
    event_type = Column(String(255), nullable=False, index=True)
    timestamp = Column(DateTime(timezone=True), nullable=False, index=True)
    source = Column(String(255))
    payload = Column(JSONB, nullable=False)
    correlation_ids = Column(JSONB)
    agent_context = Column(JSONB)
    source_full = Column(JSONB)
    version = Column(String(20))


async def main(amqp_url, queue_name, count, pg_url):
    engine = create_async_engine(pg_url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS seeds_bench")
        await conn.run_sync(Base.metadata.create_all)
    new_session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)

    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=10)
    queue = await channel.get_queue(queue_name)
    acked = 0
    done = asyncio.Event()

    async def store_event(data):
        source = data.get("source") or {}
        async with new_session() as session:
            session.add(Event(
                id=data["event_id"],
                event_type=data["event_type"],
                timestamp=datetime.fromisoformat(data["timestamp"]),
                source=source.get("app") if isinstance(source, dict) else str(source),
                payload=data.get("payload"),
                correlation_ids=data.get("correlation_ids"),
                agent_context=data.get("agent_context"),
                source_full=source,
                version=data.get("version"),
            ))
            await session.commit()

    async def handle_message(message):
        nonlocal acked
        try:
            await store_event(json.loads(message.body))
            await message.ack()
        except Exception as e:  # the seeds: log and reject, no requeue
            print(f"storage failed: {e}", file=sys.stderr)
            await message.reject(requeue=False)
        acked += 1
        if acked >= count:
            done.set()

    started = time.monotonic()
    await queue.consume(handle_message)
    await done.wait()
    elapsed = time.monotonic() - started
    await connection.close()
    await engine.dispose()
    print(f"{elapsed:.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: seeds_consumer.py AMQP_URL QUEUE COUNT PG_URL")
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
