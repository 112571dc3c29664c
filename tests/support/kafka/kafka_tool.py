"""Drives a real Kafka-protocol broker (Tansu) with confluent-kafka for kafkascope's tests.

Every record is produced in its own batch (linger.ms=0, one message per batch, flushed) because
Tansu reports the latest offset as the base offset of the last batch + 1.

  create-topic BROKER TOPIC PARTITIONS
  produce BROKER TOPIC PARTITION COUNT
  consume BROKER GROUP TOPIC COUNT        a subscribed consumer: reads COUNT records, commits each
  commit BROKER GROUP TOPIC P=OFFSET...   commits explicit offsets for GROUP (no membership)
  lag BROKER GROUP...                     JSON: what the AdminClient sees (committed, watermarks, lag)
  delete-group BROKER GROUP
  (with KAFKA_TOOL_CA=ca.pem in the environment, every client speaks TLS trusting that CA)
  (with KAFKA_TOOL_SASL_MECHANISM, _USERNAME and _PASSWORD, every client authenticates first)
  list-groups BROKER                      JSON: the group ids; exits 3 when authentication fails
  bulk BROKER TOPICS PARTITIONS GROUPS    TOPICS topics x PARTITIONS, one record each, GROUPS groups
                                          each committing every partition of one topic
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient, NewTopic


def conf(broker, **extra):
    """Client settings; with KAFKA_TOOL_CA set, TLS trusting that CA file."""
    c = {"bootstrap.servers": broker}
    if os.environ.get("KAFKA_TOOL_CA"):
        c["security.protocol"] = "SSL"
        c["ssl.ca.location"] = os.environ["KAFKA_TOOL_CA"]
    if os.environ.get("KAFKA_TOOL_SASL_MECHANISM"):
        c["security.protocol"] = "SASL_SSL" if os.environ.get("KAFKA_TOOL_CA") else "SASL_PLAINTEXT"
        c["sasl.mechanism"] = os.environ["KAFKA_TOOL_SASL_MECHANISM"]
        c["sasl.username"] = os.environ["KAFKA_TOOL_SASL_USERNAME"]
        c["sasl.password"] = os.environ["KAFKA_TOOL_SASL_PASSWORD"]
    c.update(extra)
    return c


def admin(broker):
    return AdminClient(conf(broker))


def create_topic(broker, topic, partitions):
    a = admin(broker)  # kept alive until the futures complete
    for _, f in a.create_topics([NewTopic(topic, int(partitions), 1)]).items():
        f.result()


def producer(broker):
    return Producer(conf(broker, **{"linger.ms": 0, "batch.num.messages": 1}))


def produce(broker, topic, partition, count):
    p = producer(broker)
    for i in range(int(count)):
        p.produce(topic, value=b"r%d" % i, partition=int(partition))
        p.flush(10)


def consume(broker, group, topic, count):
    c = Consumer(conf(broker, **{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }))
    c.subscribe([topic])
    got = 0
    deadline = time.time() + 60
    while got < int(count) and time.time() < deadline:
        m = c.poll(1)
        if m is None or m.error():
            continue
        got += 1
        c.commit(message=m, asynchronous=False)
    c.close()
    if got < int(count):
        sys.exit("consumed %d of %s records" % (got, count))


def commit(broker, group, topic, *pairs):
    offsets = []
    for pair in pairs:
        p, o = pair.split("=")
        offsets.append(TopicPartition(topic, int(p), int(o)))
    c = Consumer(conf(broker, **{"group.id": group, "enable.auto.commit": False}))
    c.commit(offsets=offsets, asynchronous=False)
    c.close()


def lag(broker, *groups):
    a = admin(broker)
    probe = Consumer(conf(broker, **{"group.id": "kafkascope-probe"}))
    out = {}
    for g in groups:
        futures = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)])
        rows = []
        for _, f in futures.items():
            for tp in f.result().topic_partitions:
                if tp.offset < 0:
                    continue
                low, high = probe.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                rows.append({
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "committed": tp.offset,
                    "high": high,
                    "low": low,
                    "lag": max(high - tp.offset, 0),
                })
        out[g] = rows
    probe.close()
    print(json.dumps(out))


def delete_group(broker, group):
    a = admin(broker)
    for _, f in a.delete_consumer_groups([group]).items():
        f.result()


def bulk(broker, topics, partitions, groups):
    topics, partitions, groups = int(topics), int(partitions), int(groups)
    names = ["bench-%03d" % i for i in range(topics)]
    a = admin(broker)
    for _, f in a.create_topics([NewTopic(n, partitions, 1) for n in names]).items():
        f.result()
    p = producer(broker)
    for n in names:
        for q in range(partitions):
            p.produce(n, value=b"x", partition=q)
            p.flush(10)
    c = Consumer(conf(broker, **{"group.id": "bench-committer", "enable.auto.commit": False}))
    # One committing client for all groups: librdkafka commits for its own group only, so the
    # group id is switched by creating a consumer per group (cheap next to the broker's work).
    c.close()
    for g in range(groups):
        topic = names[g % topics]
        c = Consumer(conf(broker, **{"group.id": "bench-group-%05d" % g, "enable.auto.commit": False}))
        c.commit(offsets=[TopicPartition(topic, q, 1 if (g + q) % 2 else 0) for q in range(partitions)], asynchronous=False)
        c.close()


def list_groups(broker):
    # librdkafka reports a failed authentication through error_cb and may still complete a
    # listing with nothing in it: both are checked.
    auth_errors = []

    def on_error(e):
        if e.code() == KafkaError._AUTHENTICATION:
            auth_errors.append(e.str())

    a = AdminClient(conf(broker, error_cb=on_error))
    try:
        a.list_topics(timeout=10)
        groups = a.list_consumer_groups(request_timeout=10).result()
    except Exception as e:  # noqa: BLE001 - any failure is reported with its text
        auth_errors.append(str(e))
    a.poll(0)
    if auth_errors:
        print("authentication failed: %s" % auth_errors[0], file=sys.stderr)
        sys.exit(3)
    print(json.dumps(sorted(g.group_id for g in groups.valid)))


COMMANDS = {
    "list-groups": list_groups,
    "create-topic": create_topic,
    "produce": produce,
    "consume": consume,
    "commit": commit,
    "lag": lag,
    "delete-group": delete_group,
    "bulk": bulk,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
