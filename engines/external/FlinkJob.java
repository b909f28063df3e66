// A streambench job on Apache Flink, in Flink SQL, on a local mini-cluster or
// submitted to a Flink cluster by its REST address.
//
// `streambench engine flink` writes a job file (JSON) and runs this class
// with Flink's jars on the class path. The job is
// what a Flink user would write: a Kafka table with a watermark on the event
// time (per partition, idle partitions left out), a TUMBLE / HOP / SESSION
// window table-valued function with the job's aggregates, and the JDBC
// connector writing to PostgreSQL, appending (`insert`) or upserting by the
// window's key (`upsert`). A second statement writes records that are not
// events to the dead-letter table. Checkpoints are retained, so a restart
// resumes from the latest.
//
// Protocol with streambench, one line each: it prints `streambench: session
// ready`, waits for `start`, submits the job, prints `streambench: started`;
// `drain` stops the job with a savepoint and a final watermark (Flink's
// `stop --drain`), which writes every window; `stop` cancels it. It exits
// when streambench is gone, and on a cluster cancels the job first: a kill of
// streambench is a crash of the job.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

public class FlinkJob {
    /** Milliseconds since the epoch of a window bound (the session's time zone is UTC). */
    public static class EpochMillis extends ScalarFunction {
        public Long eval(@DataTypeHint("TIMESTAMP(3)") LocalDateTime time) {
            return time == null ? null : time.toInstant(ZoneOffset.UTC).toEpochMilli();
        }
    }

    /** A record's size in bytes. */
    public static class ByteLength extends ScalarFunction {
        public Integer eval(byte[] bytes) {
            return bytes == null ? null : bytes.length;
        }
    }

    /**
     * A record decoded as an event of the job's kind, as strictly as streambench's own decoder:
     * null unless it is UTF-8 JSON of at most the size limit with every field present and of its
     * type. Ads give their ad as source_key and 1 as value; measurements their key and value.
     */
    public static class DecodeEvent extends ScalarFunction {
        private static final ObjectMapper JSON = new ObjectMapper();
        private static final String[] AD_TYPES = {"view", "click", "purchase"};
        private final String kind;
        private final int maxBytes;

        public DecodeEvent(String kind, int maxBytes) {
            this.kind = kind;
            this.maxBytes = maxBytes;
        }

        static Long integer(JsonNode event, String field, boolean unsigned) {
            JsonNode value = event.get(field);
            if (value == null || !value.isIntegralNumber() || !value.canConvertToLong()) {
                return null;
            }
            return unsigned && value.asLong() < 0 ? null : value.asLong();
        }

        static String text(JsonNode event, String field) {
            JsonNode value = event.get(field);
            return value != null && value.isTextual() ? value.asText() : null;
        }

        @DataTypeHint("ROW<event_time_ms BIGINT, source_key BIGINT, `value` BIGINT, event_type STRING>")
        public Row eval(byte[] payload) {
            if (payload == null || payload.length > maxBytes) {
                return null;
            }
            JsonNode event;
            try {
                event = JSON.readTree(payload);
            } catch (Exception notJson) {
                return null;
            }
            if (event == null || !event.isObject() || integer(event, "event_id", true) == null) {
                return null;
            }
            Long time = integer(event, "event_time_ms", false);
            if (time == null) {
                return null;
            }
            if (kind.equals("ad")) {
                Long ad = integer(event, "ad_id", true);
                String type = text(event, "event_type");
                if (ad == null || integer(event, "user_id", true) == null || integer(event, "page_id", true) == null
                    || text(event, "ad_type") == null || text(event, "ip") == null
                    || type == null || !java.util.Arrays.asList(AD_TYPES).contains(type)) {
                    return null;
                }
                return Row.of(time, ad, 1L, type);
            }
            Long key = integer(event, "key", true);
            Long value = integer(event, "value", false);
            return key == null || value == null ? null : Row.of(time, key, value, null);
        }
    }

    /** The event time of a record that is an event, else null (for the watermark). */
    public static class EventTime extends ScalarFunction {
        private final DecodeEvent decode;

        public EventTime(String kind, int maxBytes) {
            this.decode = new DecodeEvent(kind, maxBytes);
        }

        public Long eval(byte[] payload) {
            Row event = decode.eval(payload);
            return event == null ? null : (Long) event.getField(0);
        }
    }

    /** The campaign of an ad, from the job's campaign table (the YSB enrichment). */
    public static class CampaignOf extends ScalarFunction {
        private final Map<Long, Long> campaigns;

        public CampaignOf(Map<Long, Long> campaigns) {
            this.campaigns = campaigns;
        }

        public Long eval(Long ad) {
            return ad == null ? null : campaigns.get(ad);
        }
    }

    static String quoted(String name) {
        return "`" + name.replace("`", "``") + "`";
    }

    /** A SQL interval of `ms` milliseconds (Flink's parser has no MILLISECOND unit). */
    static String interval(long ms) {
        return String.format("INTERVAL '%d %02d:%02d:%02d.%03d' DAY TO SECOND",
            ms / 86_400_000, ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    }

    static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }

    public static void main(String[] args) throws Exception {
        exitWithParent();
        JsonNode job = new ObjectMapper().readTree(Files.readString(Path.of(args[0])));
        JsonNode spec = job.get("job");
        Configuration config = new Configuration();
        // No interval: checkpoints off (no restore, no committed offsets), as on every engine.
        if (job.hasNonNull("checkpoint_interval_ms")) {
            config.setString("execution.checkpointing.interval", job.get("checkpoint_interval_ms").asLong() + " ms");
        }
        config.setString("execution.checkpointing.mode", "EXACTLY_ONCE");
        String state = job.get("state_uri").asText();
        config.setString("execution.checkpointing.dir", state + "/checkpoints");
        config.setString("execution.checkpointing.savepoint-dir", state + "/savepoints");
        config.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
        config.setString("state.backend.type", "hashmap");
        // A failure ends the job and this process: streambench restarts it from the latest checkpoint.
        config.setString("restart-strategy.type", "none");
        config.setString("table.local-time-zone", "UTC");
        config.setString("table.exec.source.idle-timeout", job.get("idle_timeout_ms").asLong() + " ms");
        config.setString("parallelism.default", Integer.toString(job.get("parallelism").asInt()));
        config.setString("pipeline.name", job.get("job_name").asText());
        if (job.hasNonNull("restore_from")) {
            config.setString("execution.state-recovery.path", job.get("restore_from").asText());
        }
        URI cluster = URI.create(job.get("rest_url").asText());
        StreamExecutionEnvironment env;
        if (job.get("local").asBoolean()) {
            // A mini-cluster in this JVM, its REST endpoint where streambench reads metrics.
            config.setString("rest.bind-address", cluster.getHost());
            config.setString("rest.address", cluster.getHost());
            config.setString("rest.port", Integer.toString(cluster.getPort()));
            // Metrics reach the REST API every second (the default is 10 s).
            config.setString("metrics.fetcher.update-interval", "1000");
            env = StreamExecutionEnvironment.getExecutionEnvironment(config);
        } else {
            // The job's classes and the connectors go to the cluster with the job.
            String[] jars = new String[job.get("ship_jars").size()];
            for (int i = 0; i < jars.length; i++) {
                jars[i] = job.get("ship_jars").get(i).asText();
            }
            env = StreamExecutionEnvironment.createRemoteEnvironment(cluster.getHost(), cluster.getPort(), config, jars);
        }
        StreamTableEnvironment tables = StreamTableEnvironment.create(env);
        tables.createTemporarySystemFunction("epoch_millis", new EpochMillis());
        tables.createTemporarySystemFunction("byte_length", new ByteLength());
        Map<Long, Long> campaigns = new HashMap<>();
        for (JsonNode pair : job.get("campaigns")) {
            campaigns.put(pair.get(0).asLong(), pair.get(1).asLong());
        }
        tables.createTemporarySystemFunction("campaign_of", new CampaignOf(campaigns));

        String kind = job.get("input").asText();
        String start;
        JsonNode startNode = job.get("start");
        if (startNode.isObject()) {
            start = "'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '"
                + startNode.get("timestamp").asLong() + "'";
        } else if (startNode.asText().equals("latest")) {
            start = "'scan.startup.mode' = 'latest-offset'";
        } else {
            start = "'scan.startup.mode' = 'earliest-offset'";
        }
        String boundedScan = job.get("bounded").asBoolean() ? ", 'scan.bounded.mode' = 'latest-offset'" : "";
        long delay = spec.get("watermark_delay_ms").asLong();
        tables.createTemporarySystemFunction("decode_event", new DecodeEvent(kind, job.get("max_event_bytes").asInt()));
        tables.createTemporarySystemFunction("event_time", new EventTime(kind, job.get("max_event_bytes").asInt()));
        tables.executeSql(
            "CREATE TABLE records ("
                + " `partition` INT METADATA VIRTUAL,"
                + " `offset` BIGINT METADATA VIRTUAL,"
                + " payload BYTES,"
                // Records that are not events get the epoch: they never move the watermark.
                + " ts AS TO_TIMESTAMP_LTZ(COALESCE(event_time(payload), 0), 3),"
                // Minus one more millisecond, as Flink's BoundedOutOfOrderness does: an
                // event exactly `delay` behind the latest is still on time.
                + " WATERMARK FOR ts AS ts - " + interval(delay + 1)
                + ") WITH ('connector' = 'kafka', 'topic' = " + literal(job.get("topic").asText())
                + ", 'properties.bootstrap.servers' = " + literal(job.get("brokers").asText())
                + ", 'properties.group.id' = " + literal(job.get("group").asText())
                + ", 'properties.commit.offsets.on.checkpoint' = 'true'"
                + ", " + start + boundedScan
                + ", 'format' = 'raw')");
        tables.executeSql(
            "CREATE TEMPORARY VIEW parsed AS SELECT `partition`, `offset`, payload, ts, e IS NOT NULL AS ok,"
                + " e.event_time_ms AS event_time_ms, e.source_key AS source_key, e.`value` AS `value`,"
                + " e.event_type AS event_type FROM (SELECT *, decode_event(payload) AS e FROM records)");

        String events;
        if (kind.equals("ad")) {
            JsonNode filter = spec.get("filter");
            String wanted = filter != null && filter.hasNonNull("ad_event_type")
                ? " AND event_type = " + literal(filter.get("ad_event_type").asText())
                : "";
            events = "SELECT ts, event_time_ms, campaign_of(source_key) AS group_key, `value`"
                + " FROM parsed WHERE ok" + wanted + " AND campaign_of(source_key) IS NOT NULL";
        } else {
            events = "SELECT ts, event_time_ms, source_key AS group_key, `value` FROM parsed WHERE ok";
        }
        // End-of-input markers (dated 2100) only move the watermark.
        events += " AND event_time_ms < " + job.get("end_of_input_ms").asLong();
        tables.executeSql("CREATE TEMPORARY VIEW events AS " + events);

        JsonNode window = spec.get("window");
        String tvf;
        switch (window.get("kind").asText()) {
            case "tumbling":
                tvf = "TUMBLE(TABLE events, DESCRIPTOR(ts), " + interval(window.get("size_ms").asLong()) + ")";
                break;
            case "sliding":
                tvf = "HOP(TABLE events, DESCRIPTOR(ts), " + interval(window.get("slide_ms").asLong())
                    + ", " + interval(window.get("size_ms").asLong()) + ")";
                break;
            default:
                tvf = "SESSION(TABLE events PARTITION BY group_key, DESCRIPTOR(ts), "
                    + interval(window.get("gap_ms").asLong()) + ")";
        }
        Map<String, String> aggregates = Map.of(
            "count", "COUNT(*)",
            "sum", "SUM(`value`)",
            "min", "MIN(`value`)",
            "max", "MAX(`value`)",
            "mean", "AVG(CAST(`value` AS DOUBLE))",
            "first_event_time", "MIN(event_time_ms)",
            "last_event_time", "MAX(event_time_ms)");
        StringBuilder select = new StringBuilder(
            "SELECT group_key, epoch_millis(CAST(window_start AS TIMESTAMP(3))), epoch_millis(CAST(window_end AS TIMESTAMP(3)))");
        StringBuilder columns = new StringBuilder("`key` BIGINT, window_start_ms BIGINT, window_end_ms BIGINT");
        for (JsonNode aggregate : job.get("aggregates")) {
            String column = aggregate.get("column").asText();
            String expression = aggregates.get(aggregate.get("kind").asText());
            boolean mean = aggregate.get("kind").asText().equals("mean");
            select.append(", ").append(mean ? expression : "CAST(" + expression + " AS BIGINT)");
            columns.append(", ").append(quoted(column)).append(mean ? " DOUBLE" : " BIGINT");
        }
        select.append(", CAST(0 AS BIGINT), ").append(literal(job.get("engine").asText()))
            .append(" FROM TABLE(").append(tvf).append(") GROUP BY group_key, window_start, window_end");
        columns.append(", revision BIGINT, engine STRING");
        boolean upsert = job.get("delivery").asText().equals("upsert");
        if (upsert) {
            columns.append(", PRIMARY KEY (`key`, window_start_ms, window_end_ms) NOT ENFORCED");
        }
        String jdbc = "'connector' = 'jdbc', 'url' = " + literal(job.get("jdbc_url").asText())
            + ", 'username' = " + literal(job.get("jdbc_user").asText())
            + ", 'password' = " + literal(job.get("jdbc_password").asText());
        tables.executeSql("CREATE TABLE results (" + columns + ") WITH (" + jdbc
            + ", 'table-name' = " + literal(job.get("results_table").asText()) + ")");
        tables.executeSql(
            "CREATE TABLE dead_letters (`partition` INT, record_offset BIGINT, `raw` BYTES, error STRING,"
                + " PRIMARY KEY (`partition`, record_offset) NOT ENFORCED) WITH (" + jdbc
                + ", 'table-name' = " + literal(job.get("dead_letters_view").asText()) + ")");

        System.out.println("streambench: session ready");
        BufferedReader input = new BufferedReader(new InputStreamReader(System.in));
        if (!"start".equals(input.readLine())) {
            return;
        }
        StatementSet statements = tables.createStatementSet();
        statements.addInsertSql("INSERT INTO results " + select);
        statements.addInsertSql(
            "INSERT INTO dead_letters SELECT `partition`, `offset`, COALESCE(payload, CAST('' AS BYTES)),"
                + " CASE WHEN payload IS NULL THEN 'record has no value'"
                + " WHEN byte_length(payload) > " + job.get("max_event_bytes").asLong()
                + " THEN 'record larger than the event size limit'"
                + " ELSE 'not a valid event: a field is missing, mistyped or the JSON is broken' END"
                + " FROM parsed WHERE NOT ok");
        TableResult result = statements.execute();
        JobClient client = result.getJobClient().orElseThrow();
        if (!job.get("local").asBoolean()) {
            cancelWhenOrphaned(client);
        }
        System.out.println("streambench: started " + client.getJobID());
        boolean bounded = job.get("bounded").asBoolean();
        // The job's end ends this process: with success when bounded input is done,
        // with its cause when it failed.
        client.getJobExecutionResult().whenComplete((done, failure) -> {
            if (failure != null) {
                System.err.println("streambench: the Flink job failed");
                failure.printStackTrace();
                System.exit(1);
            }
            if (bounded) {
                System.out.println("streambench: finished");
                System.exit(0);
            }
        });
        String command;
        while ((command = input.readLine()) != null) {
            if (command.equals("drain")) {
                // Flink's `stop --drain`: a final watermark fires every window, then a savepoint.
                String savepoint = client.stopWithSavepoint(true, state + "/savepoints", SavepointFormatType.CANONICAL).get();
                System.out.println("streambench: drained " + savepoint);
                System.exit(0);
            }
            if (command.equals("stop")) {
                String savepoint = client.stopWithSavepoint(false, state + "/savepoints", SavepointFormatType.CANONICAL).get();
                System.out.println("streambench: stopped " + savepoint);
                System.exit(0);
            }
        }
        System.exit(1);
    }

    /** The job a cluster runs for this process, cancelled when streambench is gone. */
    static volatile JobClient orphan;

    /** On a cluster, the job outlives this process unless it is cancelled. */
    static void cancelWhenOrphaned(JobClient client) {
        orphan = client;
        // Also when this process exits on an error, with the job still running.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                if (!client.getJobStatus().get(10, java.util.concurrent.TimeUnit.SECONDS).isGloballyTerminalState()) {
                    client.cancel().get(30, java.util.concurrent.TimeUnit.SECONDS);
                }
            } catch (Exception e) {
                System.err.println("streambench: could not cancel the job on the cluster: " + e);
            }
        }));
    }

    /** Exits when the process that started this one is gone (it was killed). */
    static void exitWithParent() {
        long parent = Long.parseLong(System.getenv().getOrDefault("STREAMBENCH_PARENT_PID",
            Long.toString(ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L))));
        Thread watch = new Thread(() -> {
            while (true) {
                long now = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L);
                if (now != parent) {
                    JobClient running = orphan;
                    if (running != null) {
                        try {
                            running.cancel().get(30, java.util.concurrent.TimeUnit.SECONDS);
                        } catch (Exception e) {
                            System.err.println("streambench: could not cancel the job on the cluster: " + e);
                        }
                    }
                    Runtime.getRuntime().halt(1);
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        watch.setDaemon(true);
        watch.start();
    }
}
