"""A streambench job on Apache Spark Structured Streaming.

`streambench engine spark` writes a job file (JSON) and runs this script with
it; the script runs the job as Spark itself would: a Kafka source, a
watermark on the event time, `window` / `session_window` aggregation, and
`foreachBatch` writing each batch's windows to PostgreSQL, using the batch id
to make the write idempotent where the delivery mode asks for it. The
stateless per-event job (`alerts`) is the same source and sink around a
filter and the campaign join, with no watermark: a row per event; the
per-key rule (`fraud`) is `applyInPandasWithState`. A second,
stateless query writes records that are not events to the dead-letter table.
A job a suite declares reads its own schema and runs the filter, derived
fields and table that streambench wrote for it in Spark SQL (`declared` in
the job file); from its keyed events on, it is the same query.
With `real_time` (the `spark_realtime` engine) the results query runs in
Spark's real-time mode instead: long-running batches whose duration is the
checkpoint interval, each row written as it comes by a ForeachWriter in
the JVM (SparkRowWriter.java).

It prints `streambench: session ready` once Spark is up, starts the queries
when it reads `start` on its input, prints `streambench: started` once they run, appends every
StreamingQueryProgress of the windowed query (plus the rows each batch wrote)
to the progress file as JSON lines, and stops both queries on SIGTERM.
"""

import json
import os
import signal
import sys
import threading
import time

import psycopg
from pyspark import SparkContext
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener
from pyspark.sql.streaming.state import GroupStateTimeout

EVENT_SCHEMAS = {
    "measurement": T.StructType(
        [
            T.StructField("event_id", T.LongType()),
            T.StructField("event_time_ms", T.LongType()),
            T.StructField("key", T.LongType()),
            T.StructField("value", T.LongType()),
        ]
    ),
    "ad": T.StructType(
        [
            T.StructField("event_id", T.LongType()),
            T.StructField("event_time_ms", T.LongType()),
            T.StructField("user_id", T.LongType()),
            T.StructField("page_id", T.LongType()),
            T.StructField("ad_id", T.LongType()),
            T.StructField("ad_type", T.StringType()),
            T.StructField("event_type", T.StringType()),
            T.StructField("ip", T.StringType()),
        ]
    ),
}

# The fields every event of a kind must have, of the right type.
REQUIRED = {
    "measurement": ["event_id", "event_time_ms", "key", "value"],
    "ad": ["event_id", "event_time_ms", "user_id", "page_id", "ad_id", "ad_type", "event_type", "ip"],
}


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


def source(spark, job):
    # The input, and streambench's own topic where the end-of-input marker
    # comes (never written into the input).
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", job["brokers"])
        .option("subscribe", job["topic"] + "," + job["marker_topic"])
        .option("failOnDataLoss", "true")
        .option("includeHeaders", "false")
    )
    start = job["start"]
    if start == "latest":
        reader = reader.option("startingOffsets", "latest")
    elif isinstance(start, dict) and "timestamp" in start:
        # A partition with nothing after the time (the marker topic, at first)
        # starts at its end, as streambench's engines start there.
        reader = reader.option("startingTimestamp", str(start["timestamp"]))
        reader = reader.option("startingOffsetsByTimestampStrategy", "latest")
    else:
        reader = reader.option("startingOffsets", "earliest")
    if job.get("max_offsets_per_trigger"):
        reader = reader.option("maxOffsetsPerTrigger", str(job["max_offsets_per_trigger"]))
    return reader.load()


def parsed(raw, job):
    text = F.col("value").cast("string")
    declared = job["declared"]
    if declared is None:
        schema, required, enums = EVENT_SCHEMAS[job["input"]], REQUIRED[job["input"]], []
    else:
        schema = ", ".join(f"`{f['name']}` {f['sql_type']}" for f in declared["fields"])
        required = [f["name"] for f in declared["fields"]]
        enums = [(f["name"], f["values"]) for f in declared["fields"] if f["values"]]
    events = raw.select(
        "partition",
        "offset",
        "value",
        F.from_json(text, schema, {"mode": "PERMISSIVE"}).alias("e"),
    )
    complete = F.lit(True)
    for field in required:
        complete = complete & F.col("e").getField(field).isNotNull()
    for field, values in enums:
        complete = complete & F.col("e").getField(field).isin(values)
    fits = F.length(F.col("value")) <= F.lit(job["max_event_bytes"])
    return events.withColumn("ok", F.coalesce(complete & fits & F.col("value").isNotNull(), F.lit(False)))


def declared_events(spark, events, job):
    """A declared job's kept events, from its decoded fields, in the columns
    every job's rows are made of (event_id, event_time_ms, group_key,
    value), with `partition`, `offset` and `ts` kept: the job's filter,
    derived fields and table join as streambench compiled them into Spark SQL
    (workloads/src/declared_sql.rs). An event whose derived value is NULL is
    dropped, as streambench's plan drops it.

    Spark pushes a filter that does not read the event time below the
    watermark, where it would drop an end-of-input marker before the
    watermark sees it; so each lets markers through, and they are dropped
    after the join."""
    declared = job["declared"]
    end = F.col("__ts") >= F.timestamp_millis(F.lit(job["end_of_input_ms"]))
    if declared["filter"] is not None:
        events = events.where(F.expr(declared["filter"]) | end)
    for column in declared["derive"]:
        events = events.withColumn(column["name"], F.expr(column["sql"]))
        events = events.where(F.col(column["name"]).isNotNull() | end)
    if declared["enrich"] is not None:
        table = spark.sql(declared["enrich"]["query"])
        events = events.join(F.broadcast(table), declared["enrich"]["on"])
    # A float too large for its units has none, and is dropped as streambench's plan drops it.
    for value in declared["values"]:
        events = events.where(F.expr(value).isNotNull() | end)
    events = events.where(~end)
    return events.select(
        F.col("__partition").alias("partition"),
        F.col("__offset").alias("offset"),
        F.col("__ts").alias("ts"),
        F.expr(declared["event_id"]).alias("event_id"),
        F.expr(declared["event_time"]).alias("event_time_ms"),
        *[F.expr(key["sql"]).alias(f"__key_{i}") for i, key in enumerate(declared["keys"])],
        *[F.expr(value).alias(value_column(i)) for i, value in enumerate(declared["values"])],
        # A per-event row's ad and user: the event's fields of those names, else 0.
        F.expr(declared["carried"][0]).alias("ad_id"),
        F.expr(declared["carried"][1]).alias("user_id"),
    ).withColumn("group_key", F.col("__key_0"))


def decoded(spark, raw, job, watermark_ms=None):
    """Each event's fields (a declared job: its kept events, see
    declared_events), with `ts`, its event time as a timestamp, and the
    watermark on it when given. The end-of-input markers advance the
    watermark and are dropped after it."""
    events = parsed(raw, job).where("ok")
    declared = job["declared"]
    if declared is not None:
        # The job's own names may be any of ours: ours get out of their way.
        events = events.select(F.col("partition").alias("__partition"), F.col("offset").alias("__offset"), "e.*")
        ts, time = "__ts", F.expr(declared["event_time"])
    else:
        events = events.select("partition", "offset", "e.*")
        ts, time = "ts", F.col("event_time_ms")
    events = events.withColumn(ts, F.timestamp_millis(time))
    if watermark_ms is not None:
        events = events.withWatermark(ts, f"{watermark_ms} milliseconds")
    if declared is not None:
        return declared_events(spark, events, job)
    # The filter names the event-time column so it stays above the watermark.
    return events.where(F.col(ts) < F.timestamp_millis(F.lit(job["end_of_input_ms"])))


def kept_ads(events, spec):
    """The ad events the job's filter keeps."""
    wanted = (spec.get("filter") or {}).get("ad_event_type")
    return events.where(F.col("event_type") == wanted) if wanted else events


def with_campaigns(spark, events, job):
    """Ad events with their campaign (the YSB enrichment, a broadcast join
    with the job's campaign table)."""
    campaigns = spark.createDataFrame(job["campaigns"], "ad_id long, campaign_id long")
    return events.join(F.broadcast(campaigns), "ad_id")


def per_event(spark, raw, job):
    """A row per kept event, written by the batch that reads it: the
    stateless per-event job (`alerts`), with no window, watermark or state.
    A declared key of text, a boolean or several fields is written as its
    own columns, in place of the whole-number `key`."""
    events = decoded(spark, raw, job)
    if job["declared"] is None:
        events = with_campaigns(spark, kept_ads(events, job["job"]), job).withColumnRenamed("campaign_id", "group_key")
    keys = [F.col("group_key").alias("key")]
    if "key" not in job["result_columns"]:
        keys = [F.col(column).alias(name) for column, name in key_columns(job)]
    return events.select(
        "event_id",
        "event_time_ms",
        *keys,
        "ad_id",
        "user_id",
        F.lit(1).cast("long").alias("event_count"),
    )


# The SQL types of a declared key's columns as Spark's.
SPARK_TYPES = {"BIGINT": T.LongType(), "STRING": T.StringType(), "BOOLEAN": T.BooleanType()}


def rule_key(job):
    """What the per-key rule groups by, as (events column, result column,
    Spark type): a declared key of text, a boolean or several fields is its
    own columns, written under the fields' names; any other key is
    `group_key`, one whole number, written as `key`."""
    if job["declared"] is None or "key" in job["result_columns"]:
        return [("group_key", "key", T.LongType())]
    return [
        (f"__key_{i}", key["name"], SPARK_TYPES[key["sql_type"]])
        for i, key in enumerate(job["declared"]["keys"])
    ]


def rule_output(job):
    """What the per-key rule emits: a row it raises (its result columns), or
    (`__late`) an event for the late table. The rule's own columns start
    with `__`, out of the way of the key's names."""
    def longs(names):
        return [T.StructField(name, T.LongType()) for name in names]

    return T.StructType(
        [T.StructField("__late", T.BooleanType())]
        + longs(["event_id", "event_time_ms"])
        + [T.StructField(name, kind) for _, name, kind in rule_key(job)]
        + longs(["ad_id", "user_id", "event_count", "__partition", "__offset", "__late_key", "__watermark_ms"])
    )


# What the rule keeps per key: its recent event times with the events at
# each, as JSON pairs (PySpark 4.2's Python worker cannot read an array in a
# state schema: KeyError 'elementType'), and the newest time.
RULE_STATE = T.StructType(
    [
        T.StructField("times", T.StringType()),
        T.StructField("newest", T.LongType()),
    ]
)


def burst_rule(within_ms, at_least, delay_ms, whole_key, output):
    """The `fraud` rule per key, exactly as streambench's own engines evaluate
    it (workloads/src/per_event.rs): in arrival order (a key's events all come
    from one Kafka partition, so offset order), on each event at time t the
    key's events so far with an event time in (t - within, t], this one
    included; at least `at_least` raise a row with that count. An event more
    than the watermark delay older than its key's newest is late and goes to
    the late table (whose `key` is the key when it is one whole number, 0
    otherwise: the side output is judged by event id). Entries that can no
    longer be counted are dropped. Its rows have the columns of `output`
    (rule_output)."""
    columns = output.fieldNames()

    def rule(key, chunks, state):
        import pandas as pd

        times, newest = {}, None
        if state.exists:
            held, newest = state.get
            times = dict(json.loads(held))
        late_key = key[0] if whole_key else 0
        out = []
        for e in pd.concat(list(chunks)).sort_values("offset").itertuples(index=False):
            t = int(e.event_time_ms)
            where = (int(e.partition), int(e.offset), late_key)
            if newest is not None and t < newest - delay_ms:
                out.append((True, e.event_id, t, *key, e.ad_id, e.user_id, 0) + where + (newest - delay_ms,))
                continue
            times[t] = times.get(t, 0) + 1
            newest = t if newest is None else max(newest, t)
            keep_from = newest - delay_ms - within_ms + 1
            times = {time: n for time, n in times.items() if time >= keep_from}
            count = sum(n for time, n in times.items() if t - within_ms < time <= t)
            if count >= at_least:
                out.append((False, e.event_id, t, *key, e.ad_id, e.user_id, count) + where + (0,))
        state.update((json.dumps(sorted(times.items())), newest))
        yield pd.DataFrame(out, columns=columns)

    return rule


def burst(spark, raw, job):
    """The per-key rule (`fraud`) with Spark's arbitrary stateful operator,
    `applyInPandasWithState`, its state in Spark's state store, grouped by
    the job's key (rule_key)."""
    spec = job["job"]
    events = decoded(spark, raw, job)
    if job["declared"] is None:
        if spec["key"] == "campaign":
            events = with_campaigns(spark, kept_ads(events, spec), job).withColumnRenamed("campaign_id", "group_key")
        else:
            events = kept_ads(events, spec)
            events = events.withColumn("group_key", F.col("user_id" if spec["key"] == "user" else "ad_id"))
    window = spec["window"]
    keys = [column for column, _, _ in rule_key(job)]
    output = rule_output(job)
    whole_key = keys == ["group_key"]
    rule = burst_rule(window["within_ms"], window["at_least"], spec["watermark_delay_ms"], whole_key, output)
    columns = keys + ["partition", "offset", "event_id", "event_time_ms", "ad_id", "user_id"]
    return (
        events.select(*columns)
        .groupBy(*keys)
        .applyInPandasWithState(rule, output, RULE_STATE, "append", GroupStateTimeout.NoTimeout)
    )


def key_columns(job):
    """The columns a windowed job groups by, each with its name in the result
    table: a declared job's key columns (one whole-number `key`, or the
    fields of a key of text or of several fields), else `key`."""
    if job["declared"] is None:
        return [("group_key", "key")]
    return [(f"__key_{i}", key["name"]) for i, key in enumerate(job["declared"]["keys"])]


def value_column(i):
    """The events' column of the i-th field a job aggregates: `value`,
    `value_1`, ..."""
    return "value" if i == 0 else f"value_{i}"


def aggregate_of(kind, field):
    """The aggregate `kind` over the events' value column `field`. The
    window's first and last values are its earliest and latest events' by
    event time, then event id, as streambench orders them (Spark's `first`
    and `last` take arrival order)."""
    order = F.struct("event_time_ms", "event_id")
    aggregates = {
        "count": F.count(F.lit(1)),
        "sum": F.sum(field),
        "min": F.min(field),
        "max": F.max(field),
        "mean": F.avg(field),
        "first_event_time": F.min("event_time_ms"),
        "last_event_time": F.max("event_time_ms"),
        "first_value": F.min_by(field, order),
        "last_value": F.max_by(field, order),
        # Spark refuses distinct aggregates on a stream; the size of the
        # window's set of values is the same count, exactly.
        "count_distinct": F.size(F.collect_set(field)),
    }
    return aggregates[kind]


def in_terms(aggregate, column):
    """An aggregate in its field's own terms: of a float aggregated in
    units of its decimals, the sum, minimum, maximum, mean, first and last
    value divided back by 10^decimals, as streambench's sink writes them."""
    decimals = column["decimals"]
    if decimals is None or column["kind"] not in ("sum", "min", "max", "mean", "first_value", "last_value"):
        return aggregate
    return aggregate.cast("double") / F.lit(10**decimals).cast("double")


def windowed(spark, raw, job):
    spec = job["job"]
    delay_ms = spec["watermark_delay_ms"] + spec["allowed_lateness_ms"]
    events = decoded(spark, raw, job, delay_ms)
    if job["declared"] is None and spec["input"] == "ad":
        events = with_campaigns(spark, kept_ads(events, spec), job).withColumnRenamed("campaign_id", "group_key")
        events = events.withColumn("value", F.lit(1).cast("long"))
    elif job["declared"] is None:
        events = events.withColumnRenamed("key", "group_key")
    window = spec["window"]
    if window["kind"] == "tumbling":
        group = F.window("ts", f"{window['size_ms']} milliseconds")
    elif window["kind"] == "sliding":
        group = F.window("ts", f"{window['size_ms']} milliseconds", f"{window['slide_ms']} milliseconds")
    else:
        group = F.session_window("ts", f"{window['gap_ms']} milliseconds")
    columns = [in_terms(aggregate_of(a["kind"], a["field"]), a).alias(a["column"]) for a in job["aggregates"]]
    keys = key_columns(job)
    grouped = events.groupBy(*[F.col(column) for column, _ in keys], group.alias("w")).agg(*columns)
    return grouped.select(
        *[F.col(column).alias(name) for column, name in keys],
        F.unix_millis(F.col("w.start")).alias("window_start_ms"),
        F.unix_millis(F.col("w.end")).alias("window_end_ms"),
        *[F.col(a["column"]) for a in job["aggregates"]],
    )


# How long a write keeps retrying through a database outage before it gives
# up (and so fails the query), as streambench's own engines do.
RETRY_FOR_S = 300


def through_outages(write):
    """Runs write(), again after a lost or refused connection (PostgreSQL
    restarting, crashed or not yet back), with backoff, for up to RETRY_FOR_S.
    Spark's own answer to a failed batch is to fail the query; a Spark user
    keeps a foreachBatch sink alive by retrying its idempotent write, which
    every delivery mode here is (transactional by its batch id)."""
    started = time.monotonic()
    backoff = 0.1
    while True:
        try:
            return write()
        except psycopg.OperationalError as error:
            if time.monotonic() - started > RETRY_FOR_S:
                raise
            print(f"PostgreSQL write failed ({error}); retrying in {backoff:.1f} s", file=sys.stderr, flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


class CrashPoint:
    """streambench's crash points (`STREAMBENCH_CRASH_AT=<point>[:<n>]`): the
    process is killed, as by SIGKILL, the n-th time it reaches the point."""

    def __init__(self):
        armed = os.environ.get("STREAMBENCH_CRASH_AT", "")
        name, _, nth = armed.rpartition(":") if ":" in armed else (armed, "", "1")
        self.name = name
        self.nth = max(int(nth) if nth.isdigit() else 1, 1)
        self.reached = 0

    def reach(self, name):
        if name != self.name:
            return
        self.reached += 1
        if self.reached == self.nth:
            print(f"streambench: crashing at {name} ({self.nth})", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


CRASH = CrashPoint()


# A late event's columns in the late table, as the rule emits them.
LATE_COLUMNS = ["__partition", "__offset", "event_id", "__late_key", "event_time_ms", "__watermark_ms"]


def insert_statement(job, written):
    """The statement that writes one result row of `written` columns in the
    job's delivery mode: a plain insert, or an upsert on the result key."""
    marks = ", ".join(["%s"] * len(written))
    names = ", ".join(quoted(c) for c in written)
    insert = f"INSERT INTO {quoted(job['results_table'])} ({names}) VALUES ({marks})"
    if job["delivery"] == "upsert":
        key = job["result_key"]
        updates = ", ".join(
            f"{quoted(c)} = EXCLUDED.{quoted(c)}" for c in written if c not in key
        ) + ", inserted_at = clock_timestamp()"
        insert += f" ON CONFLICT ({', '.join(quoted(c) for c in key)}) DO UPDATE SET {updates}"
    return insert


def start_real_time(spark, rows, job, name):
    """Starts the results query in real-time mode (Real-time Mode guide,
    "Requirements": update output mode, a ForeachWriter sink, the interval as
    the batch duration, which is the checkpoint interval, not a latency
    target). The writer is streambench's JVM ForeachWriter
    (SparkRowWriter.java), as a Spark user after real-time latency writes:
    PySpark's Python foreach path hands rows to its worker in pickled batches
    that fill only at a batch's end. It is built through Py4J, since PySpark
    takes only Python writers."""
    jdbc = job["jdbc"]
    # JDBC placeholders: the row's columns, then the engine's name.
    statement = insert_statement(job, job["result_columns"] + ["engine"]).replace("%s", "?")
    writer = spark._jvm.streambench.SparkRowWriter(
        jdbc["url"], jdbc["user"], jdbc["password"], statement, job["engine"], job["progress_file"]
    )
    trigger = spark._jvm.org.apache.spark.sql.streaming.Trigger.RealTime(f"{job['trigger_interval_ms']} milliseconds")
    query = (
        rows._jdf.writeStream()
        .queryName(name)
        .outputMode("update")
        .foreach(writer)
        .trigger(trigger)
        .option("checkpointLocation", job["checkpoint_dir"] + "/windows")
        .start()
    )
    return StreamingQuery(query)


class ResultWriter:
    """Writes each batch's rows (windows, or a per-event job's rows) in the
    job's delivery mode."""

    def __init__(self, job):
        self.job = job
        self.columns = job["result_columns"]
        # A window's rows carry their revision (Spark writes each window once).
        self.bookkeeping = {"engine": job["engine"]} if job["per_event"] else {"revision": 0, "engine": job["engine"]}
        self.rule = job["job"]["window"]["kind"] == "burst"
        self.lock = threading.Lock()

    def __call__(self, batch, batch_id):
        extra = tuple(self.bookkeeping.values())
        collected = batch.collect()
        # A per-key rule's output holds its late events too, for the late table.
        late = [tuple(r[c] for c in LATE_COLUMNS) for r in collected if r["__late"]] if self.rule else []
        rows = [tuple(r[c] for c in self.columns) + extra for r in collected if not (self.rule and r["__late"])]
        insert = insert_statement(self.job, self.columns + list(self.bookkeeping))
        through_outages(lambda: self.write(rows, late, batch_id, insert))
        if rows:
            # Written and committed in PostgreSQL; Spark's commit log for the
            # batch is not written yet, so a restart runs the batch again.
            CRASH.reach("spark.after_sink")
        with self.lock, open(self.job["progress_file"], "a") as out:
            out.write(json.dumps({"written": {"batchId": batch_id, "rows": len(rows)}}) + "\n")

    def write(self, rows, late, batch_id, insert):
        """Writes one batch's rows and late events in one transaction (with
        its batch id, in transactional mode: a batch already written is
        skipped)."""
        mode = self.job["delivery"]
        with psycopg.connect(self.job["postgres"]) as connection:
            with connection.transaction():
                if mode == "transactional":
                    # The batch id makes the write idempotent: a batch Spark
                    # re-runs after a failure is written once.
                    done = connection.execute(
                        "SELECT batch_id FROM streambench_spark_batches WHERE sink = %s FOR UPDATE",
                        (self.job["results_table"],),
                    ).fetchone()
                    if done is not None and done[0] >= batch_id:
                        return
                with connection.cursor() as cursor:
                    if rows:
                        cursor.executemany(insert, rows)
                    if late:
                        cursor.executemany(
                            f"INSERT INTO {quoted(self.job['late_table'])} "
                            "(partition, \"offset\", event_id, key, event_time_ms, watermark_ms) "
                            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            late,
                        )
                if mode == "transactional":
                    connection.execute(
                        "INSERT INTO streambench_spark_batches (sink, batch_id) VALUES (%s, %s) "
                        "ON CONFLICT (sink) DO UPDATE SET batch_id = EXCLUDED.batch_id",
                        (self.job["results_table"], batch_id),
                    )


def write_dead_letters(job):
    table = quoted(job["dead_letters_table"])

    def write(batch, batch_id):
        rows = [(r["partition"], r["offset"], bytes(r["value"] or b""), r["error"]) for r in batch.collect()]
        if not rows:
            return

        def insert():
            with psycopg.connect(job["postgres"]) as connection:
                with connection.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {table} (partition, \"offset\", raw, error) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (partition, \"offset\") DO NOTHING",
                        rows,
                    )

        through_outages(insert)

    return write


class ProgressFile(StreamingQueryListener):
    """Appends the windowed query's progress reports to the progress file."""

    def __init__(self, path, name):
        self.path = path
        self.name = name
        self.lock = threading.Lock()

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        progress = json.loads(event.progress.json)
        if progress.get("name") == self.name:
            with self.lock, open(self.path, "a") as out:
                out.write(json.dumps({"progress": progress}) + "\n")

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass


def exit_with_parent():
    """Exits when streambench, which started this driver, is gone."""
    parent = int(os.environ.get("STREAMBENCH_PARENT_PID", os.getppid()))

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


# The state store settings per `state_store`: Spark's default, or RocksDB
# with changelog checkpointing (Structured Streaming Programming Guide,
# "RocksDB State Store Implementation" and "RocksDB State Store Changelog
# Checkpointing").
STATE_STORES = {
    "hdfs": {},
    "rocksdb": {
        "spark.sql.streaming.stateStore.providerClass":
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    },
}


def main():
    exit_with_parent()
    with open(sys.argv[1]) as f:
        job = json.load(f)
    builder = (
        SparkSession.builder.appName(f"streambench {job['job']['name']} {job['results_table']}")
        .master(job["master"])
        .config("spark.jars", ",".join(job["jars"]))
        .config("spark.sql.shuffle.partitions", str(job["shuffle_partitions"]))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    for key, value in STATE_STORES[job["state_store"]].items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # streambench creates the tables now, then says start.
    print("streambench: session ready", flush=True)
    if sys.stdin.readline().strip() != "start":
        return
    # The results query (windows or per-event rows); its name is its
    # checkpoint folder, where streambench reads the offset and commit logs.
    name = "windows"
    spark.streams.addListener(ProgressFile(job["progress_file"], name))
    raw = source(spark, job)
    trigger = {"processingTime": f"{job['trigger_interval_ms']} milliseconds"}
    if job["job"]["window"]["kind"] == "burst":
        rows = burst(spark, raw, job)
    elif job["per_event"]:
        rows = per_event(spark, raw, job)
    else:
        rows = windowed(spark, raw, job)
    if job["real_time"]:
        windows = start_real_time(spark, rows, job, name)
    else:
        windows = (
            rows.writeStream.queryName(name)
            .outputMode("append")
            .foreachBatch(ResultWriter(job))
            .option("checkpointLocation", job["checkpoint_dir"] + "/windows")
            .trigger(**trigger)
            .start()
        )
    bad = parsed(raw, job).where(~F.col("ok")).select(
        "partition",
        "offset",
        "value",
        F.when(F.col("value").isNull(), F.lit("record has no value"))
        .when(F.length("value") > job["max_event_bytes"], F.lit("record larger than the event size limit"))
        .otherwise(F.lit("not a valid event: a field is missing, mistyped or the JSON is broken"))
        .alias("error"),
    )
    dead_letters = (
        bad.writeStream.queryName("dead_letters")
        .foreachBatch(write_dead_letters(job))
        .option("checkpointLocation", job["checkpoint_dir"] + "/dead_letters")
        .trigger(**trigger)
        .start()
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print("streambench: started", flush=True)
    while not stopping.is_set():
        for query in (windows, dead_letters):
            if query.exception() is not None:
                print(f"streambench: query {query.name} failed: {query.exception()}", file=sys.stderr, flush=True)
                sys.exit(1)
        stopping.wait(0.5)
    windows.stop()
    dead_letters.stop()
    spark.stop()
    # Wait for the JVM, so that its CPU time counts towards this process's
    # children (the harness measures an engine's CPU that way).
    gateway = SparkContext._gateway
    if gateway is not None and getattr(gateway, "proc", None) is not None:
        gateway.shutdown()
        gateway.proc.stdin.close()
        gateway.proc.wait(timeout=60)


if __name__ == "__main__":
    main()
