"""Writes `__consumer_offsets` records the way Apache Kafka's group coordinator writes them, next to
real commits made with confluent-kafka, for kafkascope's offsets-topic tests.

Tansu accepts commits but never writes them to `__consumer_offsets` (it auto-creates the topic with
4 partitions and leaves it empty), so after each real commit this script produces the record a
Kafka broker would have appended, to partition abs(Java String.hashCode(group)) % 4, one record per
batch (Tansu's watermark quirk). Layouts, from apache/kafka
group-coordinator/src/main/resources/common/message/:

  OffsetCommitKey (key version 1): int16 1, string group, string topic, int32 partition
  OffsetCommitValue v3: int16 3, int64 offset, int32 leaderEpoch, string metadata,
                        int64 commitTimestamp
  GroupMetadataKey (key version 2): int16 2, string group
  GroupMetadataValue v3: int16 3, string protocolType, int32 generation, nullable string protocol,
                         nullable string leader, int64 currentStateTimestamp, [MemberMetadata]
  MemberMetadata v3: string memberId, nullable string groupInstanceId, string clientId,
                     string clientHost, int32 rebalanceTimeout, int32 sessionTimeout,
                     bytes subscription, bytes assignment
  (strings: int16 length + UTF-8, -1 = null; bytes: int32 length; arrays: int32 count)
  A tombstone is the key with a null value.

  run BROKER GROUP TOPIC PLAN    a subscribed consumer: PLAN is a comma list of steps,
                                 `c=N` consume N records and commit, `s=S` sleep S seconds,
                                 `r` commit the current position again (the same offset),
                                 `b=N` seek N records back and commit (a rewind), `e` seek to
                                 the earliest offset and commit (a replay);
                                 every commit is also written to __consumer_offsets, with a
                                 GroupMetadata record naming this member and its assignment
  tombstone BROKER GROUP TOPIC PARTITIONS...   offset tombstones, then a group tombstone
  garbage BROKER GROUP TOPIC PARTITION         an OffsetCommit key with a value that decodes as nothing
"""
import struct
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

OFFSETS_PARTITIONS = 4


def java_hash(s):
    """java.lang.String.hashCode over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def offsets_partition(group):
    # Kafka: Utils.abs(groupId.hashCode) % offsets.topic.num.partitions (abs(MIN_VALUE) = 0).
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % OFFSETS_PARTITIONS


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def nbytes(b):
    if b is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(b)) + b


def commit_key(group, topic, partition):
    return struct.pack(">h", 1) + string(group) + string(topic) + struct.pack(">i", partition)


def commit_value(offset, ts):
    return struct.pack(">hqi", 3, offset, -1) + string("") + struct.pack(">q", ts)


def group_key(group):
    return struct.pack(">h", 2) + string(group)


def subscription(topics):
    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += string(t)
    return out + nbytes(None)


def assignment(tps):
    by_topic = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    out = struct.pack(">hi", 0, len(by_topic))
    for t, ps in sorted(by_topic.items()):
        out += string(t) + struct.pack(">i", len(ps))
        for p in sorted(ps):
            out += struct.pack(">i", p)
    return out + nbytes(None)


def group_value(member_id, client_id, topics, tps, generation, ts):
    out = struct.pack(">h", 3) + string("consumer") + struct.pack(">i", generation)
    out += string("range") + string(member_id) + struct.pack(">q", ts)
    out += struct.pack(">i", 1)
    out += string(member_id) + string(None) + string(client_id) + string("/127.0.0.1")
    out += struct.pack(">ii", 300000, 45000)
    out += nbytes(subscription(topics)) + nbytes(assignment(tps))
    return out


class Writer:
    def __init__(self, broker):
        self.p = Producer({"bootstrap.servers": broker, "linger.ms": 0, "batch.num.messages": 1})

    def put(self, group, key, value):
        self.p.produce("__consumer_offsets", key=key, value=value, partition=offsets_partition(group))
        self.p.flush(10)


def now_ms():
    return int(time.time() * 1000)


def run(broker, group, topic, plan):
    w = Writer(broker)
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": group,
        "client.id": "offsets-tool",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    positions = {}
    generation = 1

    def commit():
        offsets = [TopicPartition(topic, p, o) for p, o in sorted(positions.items())]
        c.commit(offsets=offsets, asynchronous=False)
        ts = now_ms()
        for tp in offsets:
            w.put(group, commit_key(group, topic, tp.partition), commit_value(tp.offset, ts))
        w.put(group, group_key(group),
              group_value(c.memberid() or "member-1", "offsets-tool", [topic], c.assignment(), generation, ts))

    for step in plan.split(","):
        if step.startswith("c="):
            want, got = int(step[2:]), 0
            deadline = time.time() + 60
            while got < want and time.time() < deadline:
                m = c.poll(1)
                if m is None or m.error():
                    continue
                got += 1
                positions[m.partition()] = m.offset() + 1
            if got < want:
                sys.exit("consumed %d of %d records" % (got, want))
            commit()
        elif step == "r":
            commit()
        elif step.startswith("b=") or step == "e":
            for p, o in list(positions.items()):
                low, _ = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                positions[p] = low if step == "e" else max(low, o - int(step[2:]))
                c.seek(TopicPartition(topic, p, positions[p]))
            commit()
        elif step.startswith("s="):
            time.sleep(float(step[2:]))
        else:
            sys.exit("unknown step %r" % step)
    c.close()


def tombstone(broker, group, topic, *partitions):
    w = Writer(broker)
    for p in partitions:
        w.put(group, commit_key(group, topic, int(p)), None)
    w.put(group, group_key(group), None)


def garbage(broker, group, topic, partition):
    w = Writer(broker)
    w.put(group, commit_key(group, topic, int(partition)), b"\x00\x03\x01")


COMMANDS = {"run": run, "tombstone": tombstone, "garbage": garbage}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
