// A streambench job on Apache Flink, in Flink SQL, on a local mini-cluster or
// submitted to a Flink cluster by its REST address.
//
// `streambench engine flink` writes a job file (JSON) and runs this class
// with Flink's jars on the class path. The job is
// what a Flink user would write: Flink's Kafka source, decoding each record
// once, as a table with a watermark on the event time (per partition, idle
// partitions left out), a TUMBLE / HOP / SESSION window table-valued
// function with the job's aggregates, and the JDBC connector writing to
// PostgreSQL, appending (`insert`) or upserting by the window's key (`upsert`). A second statement writes records that are not
// events to the dead-letter table. Checkpoints are retained, so a restart
// resumes from the latest. A job a suite declares decodes its own schema and
// runs the filter, derived fields and table lookup that streambench wrote for
// it in Flink SQL (`declared` in the job file); from its events view on, it
// is the same query.
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
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.functions.AggregateFunction;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.kafka.clients.consumer.ConsumerRecord;

public class FlinkJob {
    /** Milliseconds since the epoch of a window bound (the session's time zone is UTC). */
    public static class EpochMillis extends ScalarFunction {
        public Long eval(@DataTypeHint("TIMESTAMP(3)") LocalDateTime time) {
            return time == null ? null : time.toInstant(ZoneOffset.UTC).toEpochMilli();
        }
    }

    /**
     * The value of a window's earliest event (`earliest_value`) or latest (`latest_value`), by
     * event time and then event id, as streambench's engines and its oracle order them. Flink's
     * `FIRST_VALUE` and `LAST_VALUE` take the first and last in arrival order, which differs when
     * events come out of order. It merges accumulators, so the window aggregation keeps its
     * local-global (two-phase) form.
     */
    public static class ValueAtEnd extends AggregateFunction<Long, ValueAtEnd.End> {
        /** The end event so far: its time, id and value (no time before the first). */
        public static class End {
            public Long time;
            public Long id;
            public Long value;
        }

        private final boolean latest;

        public ValueAtEnd(boolean latest) {
            this.latest = latest;
        }

        @Override
        public End createAccumulator() {
            return new End();
        }

        @Override
        public Long getValue(End end) {
            return end.value;
        }

        public void accumulate(End end, Long value, Long time, Long id) {
            if (value != null && time != null && id != null && beyond(end, time, id)) {
                end.time = time;
                end.id = id;
                end.value = value;
            }
        }

        /** Whether the event at `time` with `id` lies beyond `end`, on the side this takes. */
        private boolean beyond(End end, long time, long id) {
            if (end.time == null) {
                return true;
            }
            int byTime = Long.compare(time, end.time);
            int order = byTime != 0 ? byTime : Long.compare(id, end.id);
            return latest ? order > 0 : order < 0;
        }

        public void merge(End end, Iterable<End> others) {
            for (End other : others) {
                accumulate(end, other.value, other.time, other.id);
            }
        }
    }

    /**
     * A Kafka record deserializer that tells, as a metric, when its subtask decoded its first
     * record (ms since the epoch), for streambench's throughput. Its rows start with the record's
     * partition, offset, bytes (when it is not an event), whether it is an event and its event time.
     */
    public abstract static class TimedRecords implements KafkaRecordDeserializationSchema<Row> {
        private transient volatile long firstRecordMs = Long.MAX_VALUE;

        @Override
        public void open(DeserializationSchema.InitializationContext context) {
            firstRecordMs = Long.MAX_VALUE;
            context.getMetricGroup().gauge("streambenchFirstRecordMs", (Gauge<Long>) () -> firstRecordMs);
        }

        /** Notes that a record was read. */
        void readOne() {
            if (firstRecordMs == Long.MAX_VALUE) {
                firstRecordMs = System.currentTimeMillis();
            }
        }
    }

    /**
     * The Kafka source's records, each decoded once as an event of the job's kind, as strictly as
     * streambench's own decoder: UTF-8 JSON of at most the size limit, one object with every field
     * present and of its type, nothing after it. Ads give their ad as source_key and 1 as value;
     * measurements their key and value. A record that is not an event keeps its bytes and the
     * reason, for the dead-letter table. Decoding here, in the source, once per record, is what a
     * Flink user with a format of their own writes (Flink's `json` format is more lenient: it
     * reads a number written as a string).
     */
    public static class EventRecords extends TimedRecords {
        static final String[] FIELDS = {"partition", "offset", "raw", "ok", "event_time_ms", "source_key", "value",
            "event_type", "event_id", "user_id", "error"};
        private static final JsonFactory JSON = new JsonFactory();
        private static final java.util.Set<String> AD_TYPES = java.util.Set.of("view", "click", "purchase");
        private final boolean ads;
        private final int maxBytes;

        public EventRecords(String kind, int maxBytes) {
            this.ads = kind.equals("ad");
            this.maxBytes = maxBytes;
        }

        @Override
        public TypeInformation<Row> getProducedType() {
            return Types.ROW_NAMED(FIELDS, Types.INT, Types.LONG, Types.PRIMITIVE_ARRAY(Types.BYTE), Types.BOOLEAN,
                Types.LONG, Types.LONG, Types.LONG, Types.STRING, Types.LONG, Types.LONG, Types.STRING);
        }

        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Row> out) {
            readOne();
            byte[] payload = record.value();
            String error = null;
            Object[] event = null;
            if (payload == null) {
                error = "record has no value";
            } else if (payload.length > maxBytes) {
                error = "record larger than the event size limit";
            } else {
                event = decode(payload);
                if (event == null) {
                    error = "not a valid event: a field is missing, mistyped or the JSON is broken";
                }
            }
            if (event == null) {
                out.collect(Row.of(record.partition(), record.offset(), payload == null ? new byte[0] : payload, false,
                    null, null, null, null, null, null, error));
            } else {
                out.collect(Row.of(record.partition(), record.offset(), null, true, event[0], event[1], event[2],
                    event[3], event[4], event[5], null));
            }
        }

        /**
         * event_time_ms, source_key, value, event_type, event_id and user_id (null for a measurement),
         * or null when the record is not an event.
         */
        Object[] decode(byte[] payload) {
            Long id = null, time = null, ad = null, user = null, page = null, key = null, value = null;
            String adType = null, type = null, ip = null;
            try (JsonParser json = JSON.createParser(payload)) {
                if (json.nextToken() != JsonToken.START_OBJECT) {
                    return null;
                }
                while (json.nextToken() == JsonToken.FIELD_NAME) {
                    String field = json.currentName();
                    JsonToken token = json.nextToken();
                    switch (field) {
                        case "event_id": id = integer(json, token, true); break;
                        case "event_time_ms": time = integer(json, token, false); break;
                        case "ad_id": ad = integer(json, token, true); break;
                        case "user_id": user = integer(json, token, true); break;
                        case "page_id": page = integer(json, token, true); break;
                        case "key": key = integer(json, token, true); break;
                        case "value": value = integer(json, token, false); break;
                        case "ad_type": adType = text(json, token); break;
                        case "event_type": type = text(json, token); break;
                        case "ip": ip = text(json, token); break;
                        default: json.skipChildren();
                    }
                }
                if (json.currentToken() != JsonToken.END_OBJECT || json.nextToken() != null) {
                    return null;
                }
            } catch (Exception notJson) {
                return null;
            }
            if (id == null || time == null) {
                return null;
            }
            if (ads) {
                boolean complete = ad != null && user != null && page != null && adType != null && ip != null
                    && type != null && AD_TYPES.contains(type);
                return complete ? new Object[] {time, ad, 1L, type, id, user} : null;
            }
            return key == null || value == null ? null : new Object[] {time, key, value, null, id, null};
        }

        /** An integer that fits a long (non-negative if `unsigned`), else null. */
        static Long integer(JsonParser json, JsonToken token, boolean unsigned) throws java.io.IOException {
            if (token != JsonToken.VALUE_NUMBER_INT) {
                json.skipChildren();
                return null;
            }
            if (json.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                return null;
            }
            long number = json.getLongValue();
            return unsigned && number < 0 ? null : number;
        }

        static String text(JsonParser json, JsonToken token) throws java.io.IOException {
            if (token != JsonToken.VALUE_STRING) {
                json.skipChildren();
                return null;
            }
            return json.getText();
        }
    }

    /**
     * The records of a schema a suite declares, each decoded once as strictly as streambench's own
     * decoder (`workloads/src/schema_decoder.rs`): UTF-8 JSON of at most the size limit, one
     * object with each of the schema's fields once and of its type (a float may be written as a
     * whole number; an enum's text one of its values), other keys skipped, nothing after it. Rows:
     * partition, offset, bytes (of a record that is not an event), whether it is an event, its
     * event time, the reason it is not an event, then the schema's fields in order.
     */
    public static class DeclaredRecords extends TimedRecords {
        private static final JsonFactory JSON = new JsonFactory();
        private final String[] names;
        private final String[] types;
        private final java.util.List<java.util.Set<String>> values = new java.util.ArrayList<>();
        private final int time;
        private final int maxBytes;

        public DeclaredRecords(JsonNode declared, int maxBytes) {
            JsonNode fields = declared.get("fields");
            names = new String[fields.size()];
            types = new String[fields.size()];
            int at = -1;
            for (int i = 0; i < names.length; i++) {
                names[i] = fields.get(i).get("name").asText();
                types[i] = fields.get(i).get("sql_type").asText();
                java.util.Set<String> allowed = new java.util.HashSet<>();
                fields.get(i).get("values").forEach(v -> allowed.add(v.asText()));
                values.add(allowed);
                if (names[i].equals(declared.get("time_field").asText())) {
                    at = i;
                }
            }
            this.time = at;
            this.maxBytes = maxBytes;
        }

        @Override
        public TypeInformation<Row> getProducedType() {
            String[] columns = new String[names.length + 6];
            TypeInformation<?>[] kinds = new TypeInformation<?>[names.length + 6];
            String[] own = {"__partition", "__offset", "__raw", "__ok", "__time", "__error"};
            TypeInformation<?>[] ownKinds = {Types.INT, Types.LONG, Types.PRIMITIVE_ARRAY(Types.BYTE), Types.BOOLEAN,
                Types.LONG, Types.STRING};
            System.arraycopy(own, 0, columns, 0, 6);
            System.arraycopy(ownKinds, 0, kinds, 0, 6);
            for (int i = 0; i < names.length; i++) {
                columns[i + 6] = names[i];
                kinds[i + 6] = switch (types[i]) {
                    case "BIGINT" -> Types.LONG;
                    case "DOUBLE" -> Types.DOUBLE;
                    case "BOOLEAN" -> Types.BOOLEAN;
                    default -> Types.STRING;
                };
            }
            return Types.ROW_NAMED(columns, kinds);
        }

        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Row> out) {
            readOne();
            byte[] payload = record.value();
            Object[] row = new Object[names.length + 6];
            row[0] = record.partition();
            row[1] = record.offset();
            Object[] fields = null;
            if (payload == null) {
                row[5] = "record has no value";
            } else if (payload.length > maxBytes) {
                row[5] = "record larger than the event size limit";
            } else {
                fields = decode(payload);
                if (fields == null) {
                    row[5] = "not a valid event: a field is missing, mistyped or the JSON is broken";
                }
            }
            row[3] = fields != null;
            if (fields == null) {
                row[2] = payload == null ? new byte[0] : payload;
            } else {
                row[4] = fields[time];
                System.arraycopy(fields, 0, row, 6, fields.length);
            }
            out.collect(Row.of(row));
        }

        /** The schema's fields of `payload`, in order, or null when it is not a record of the schema. */
        Object[] decode(byte[] payload) {
            Object[] fields = new Object[names.length];
            try (JsonParser json = JSON.createParser(payload)) {
                if (json.nextToken() != JsonToken.START_OBJECT) {
                    return null;
                }
                while (json.nextToken() == JsonToken.FIELD_NAME) {
                    int at = java.util.Arrays.asList(names).indexOf(json.currentName());
                    JsonToken token = json.nextToken();
                    if (at < 0) {
                        json.skipChildren();
                        continue;
                    }
                    if (fields[at] != null) {
                        return null;
                    }
                    fields[at] = value(json, token, at);
                    if (fields[at] == null) {
                        return null;
                    }
                }
                if (json.currentToken() != JsonToken.END_OBJECT || json.nextToken() != null) {
                    return null;
                }
            } catch (Exception notJson) {
                return null;
            }
            for (Object field : fields) {
                if (field == null) {
                    return null;
                }
            }
            return fields;
        }

        /** Field `at`'s value of its type, or null. */
        Object value(JsonParser json, JsonToken token, int at) throws java.io.IOException {
            switch (types[at]) {
                case "BIGINT":
                    boolean fits = token == JsonToken.VALUE_NUMBER_INT
                        && json.getNumberType() != JsonParser.NumberType.BIG_INTEGER;
                    return fits ? json.getLongValue() : null;
                case "DOUBLE":
                    boolean number = token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT;
                    return number ? json.getDoubleValue() : null;
                case "BOOLEAN":
                    return token == JsonToken.VALUE_TRUE ? Boolean.TRUE
                        : token == JsonToken.VALUE_FALSE ? Boolean.FALSE : null;
                default:
                    if (token != JsonToken.VALUE_STRING) {
                        return null;
                    }
                    String text = json.getText();
                    return values.get(at).isEmpty() || values.get(at).contains(text) ? text : null;
            }
        }
    }

    /**
     * Whole-number `+`, `-` or `*` that gives NULL on overflow, as streambench's plan does (Flink
     * SQL's arithmetic wraps around); registered under the names `workloads/src/declared_sql.rs`
     * writes (`SB_ADD`, `SB_SUB`, `SB_MUL`).
     */
    public static class CheckedArithmetic extends ScalarFunction {
        private final char op;

        public CheckedArithmetic(char op) {
            this.op = op;
        }

        public Long eval(Long x, Long y) {
            if (x == null || y == null) {
                return null;
            }
            try {
                return op == '+' ? Math.addExact(x, y) : op == '-' ? Math.subtractExact(x, y) : Math.multiplyExact(x, y);
            } catch (ArithmeticException overflow) {
                return null;
            }
        }
    }

    /** The remainder of floats, NULL by zero (`SB_FMOD`; Flink SQL's MOD takes whole numbers). */
    public static class FloatRemainder extends ScalarFunction {
        public Double eval(Double x, Double y) {
            return x == null || y == null || y == 0.0 ? null : x % y;
        }
    }

    /** Registers the functions a declared job's SQL calls. */
    static void registerDeclaredFunctions(StreamTableEnvironment tables) {
        tables.createTemporarySystemFunction("SB_ADD", new CheckedArithmetic('+'));
        tables.createTemporarySystemFunction("SB_SUB", new CheckedArithmetic('-'));
        tables.createTemporarySystemFunction("SB_MUL", new CheckedArithmetic('*'));
        tables.createTemporarySystemFunction("SB_FMOD", new FloatRemainder());
    }

    /**
     * A declared job's views: `parsed` (for the dead letters) and `events`, its kept events in the
     * columns every job's query reads, through the job's filter, derived fields (an event whose
     * derived value is NULL is dropped, as streambench's plan drops it) and table lookup, as
     * streambench compiled them into Flink SQL. The lookup is a CASE per added column rather than
     * a join, which would end the event time's role as a time attribute.
     */
    static void declaredViews(StreamTableEnvironment tables, JsonNode job) {
        JsonNode declared = job.get("declared");
        tables.executeSql("CREATE TEMPORARY VIEW parsed AS SELECT `__partition` AS `partition`, `__offset` AS `offset`,"
            + " `__raw` AS `raw`, `__ok` AS ok, `__error` AS `error` FROM records");
        StringBuilder fields = new StringBuilder();
        for (JsonNode field : declared.get("fields")) {
            fields.append(", ").append(quoted(field.get("name").asText()));
        }
        String kept = "`__ok` AND `__time` < " + job.get("end_of_input_ms").asLong();
        if (declared.hasNonNull("filter")) {
            kept += " AND " + declared.get("filter").asText();
        }
        tables.executeSql("CREATE TEMPORARY VIEW declared_0 AS SELECT rowtime AS `__ts`, `__partition`, `__offset`"
            + fields + " FROM records WHERE " + kept);
        int step = 0;
        for (JsonNode column : declared.get("derive")) {
            String sql = column.get("sql").asText();
            tables.executeSql("CREATE TEMPORARY VIEW declared_" + (step + 1) + " AS SELECT *, " + sql + " AS "
                + quoted(column.get("name").asText()) + " FROM declared_" + step + " WHERE " + sql + " IS NOT NULL");
            step++;
        }
        if (declared.hasNonNull("enrich")) {
            JsonNode table = declared.get("enrich");
            StringBuilder added = new StringBuilder();
            for (JsonNode column : table.get("columns")) {
                added.append(", ").append(column.get("sql").asText()).append(" AS ")
                    .append(quoted(column.get("name").asText()));
            }
            tables.executeSql("CREATE TEMPORARY VIEW declared_" + (step + 1) + " AS SELECT *" + added
                + " FROM declared_" + step + " WHERE " + table.get("matches").asText());
            step++;
        }
        tables.executeSql("CREATE TEMPORARY VIEW events AS SELECT `__ts` AS ts, `__partition` AS `partition`,"
            + " `__offset` AS `offset`, " + declared.get("event_time").asText() + " AS event_time_ms, "
            + keyColumns(declared) + valueColumns(declared)
            + declared.get("event_id").asText() + " AS event_id, " + declared.get("carried").get(0).asText()
            + " AS ad_id, " + declared.get("carried").get(1).asText() + " AS user_id FROM declared_" + step
            // A float too large for its units has none, and is dropped as streambench's plan drops it.
            + " WHERE " + notNull(declared.get("values")));
    }

    /**
     * A declared job's value columns in its events view: the fields its aggregates read, as
     * `value`, `value_1`, ..., each followed by a comma.
     */
    static String valueColumns(JsonNode declared) {
        StringBuilder columns = new StringBuilder();
        JsonNode values = declared.get("values");
        for (int i = 0; i < values.size(); i++) {
            columns.append(values.get(i).asText()).append(" AS `value").append(i == 0 ? "" : "_" + i).append("`, ");
        }
        return columns.toString();
    }

    /** That none of `expressions` is NULL. */
    static String notNull(JsonNode expressions) {
        StringBuilder all = new StringBuilder("TRUE");
        for (JsonNode expression : expressions) {
            all.append(" AND ").append(expression.asText()).append(" IS NOT NULL");
        }
        return all.toString();
    }

    /**
     * A declared job's key columns in its events view: each as `__key_<i>`, the first also as
     * `group_key` (the per-event jobs' one key), each followed by a comma.
     */
    static String keyColumns(JsonNode declared) {
        StringBuilder columns = new StringBuilder();
        JsonNode keys = declared.get("keys");
        for (int i = 0; i < keys.size(); i++) {
            columns.append(keys.get(i).get("sql").asText()).append(" AS `__key_").append(i).append("`, ");
        }
        return columns.append(keys.get(0).get("sql").asText()).append(" AS group_key, ").toString();
    }

    /**
     * The columns a windowed job groups by, and their definitions in its result table: a declared
     * job's key columns (one whole-number `key`, or the fields of a key of text or of several
     * fields), else `group_key` as `key`.
     */
    static String[] groupKeys(JsonNode job) {
        if (!job.hasNonNull("declared")) {
            return new String[] {"group_key", "`key` BIGINT"};
        }
        JsonNode keys = job.get("declared").get("keys");
        StringBuilder group = new StringBuilder();
        StringBuilder columns = new StringBuilder();
        for (int i = 0; i < keys.size(); i++) {
            group.append(i == 0 ? "" : ", ").append("`__key_").append(i).append('`');
            columns.append(i == 0 ? "" : ", ").append(quoted(keys.get(i).get("name").asText())).append(' ')
                .append(keys.get(i).get("sql_type").asText());
        }
        return new String[] {group.toString(), columns.toString()};
    }

    /**
     * The `fraud` rule (a burst of purchases per user), exactly as streambench's own engines
     * evaluate it (`workloads/src/per_event.rs`): per key in arrival order, on each event at time t
     * the key's events so far with an event time in (t - within, t], this one included; at least
     * `atLeast` of them raise a row with that count. An event more than the watermark delay older
     * than its key's newest is late: it raises nothing and goes to the late side output. A key's
     * events all come from one Kafka partition, read in offset order, and `keyBy` keeps their order,
     * so the rows are deterministic. The state (event time to events at it, and the newest time) is
     * Flink's keyed state, checkpointed with the source's offsets; an entry that can no longer be
     * counted is dropped. The key is a whole number ({@code Long}) or, for a declared key of text,
     * a boolean or several fields, a {@link Row} of their values ({@link RuleKey}).
     */
    public static class BurstRule<K> extends KeyedProcessFunction<K, Row, Row> {
        /** The input's columns before the key's, in order. */
        static final String[] IN = {"partition", "offset", "event_id", "event_time_ms", "ad_id", "user_id"};
        static final OutputTag<Row> LATE = new OutputTag<>("late", Types.ROW_NAMED(
            new String[] {"partition", "record_offset", "event_id", "key", "event_time_ms", "watermark_ms"},
            Types.INT, Types.LONG, Types.LONG, Types.LONG, Types.LONG, Types.LONG));
        private final long withinMs;
        private final long atLeast;
        private final long delayMs;
        private final int keyArity;
        private transient MapState<Long, Long> times;
        private transient ValueState<Long> newest;

        public BurstRule(long withinMs, long atLeast, long delayMs, int keyArity) {
            this.withinMs = withinMs;
            this.atLeast = atLeast;
            this.delayMs = delayMs;
            this.keyArity = keyArity;
        }

        @Override
        public void open(OpenContext context) {
            times = getRuntimeContext().getMapState(new MapStateDescriptor<>("times", Types.LONG, Types.LONG));
            newest = getRuntimeContext().getState(new ValueStateDescriptor<>("newest", Types.LONG));
        }

        @Override
        public void processElement(Row event, Context context, Collector<Row> out) throws Exception {
            long t = (Long) event.getField(3);
            Long seen = newest.value();
            if (seen != null && t < seen - delayMs) {
                // The late table's `key` is the key when it is one whole number; the side output is
                // judged by event id.
                long key = context.getCurrentKey() instanceof Long whole ? whole : 0L;
                context.output(LATE, Row.of(event.getField(0), event.getField(1), event.getField(2), key, t,
                    seen - delayMs));
                return;
            }
            Long held = times.get(t);
            times.put(t, held == null ? 1L : held + 1);
            long top = seen == null ? t : Math.max(seen, t);
            newest.update(top);
            long keepFrom = top - delayMs - withinMs + 1;
            long count = 0;
            java.util.Iterator<Map.Entry<Long, Long>> entries = times.iterator();
            while (entries.hasNext()) {
                Map.Entry<Long, Long> entry = entries.next();
                if (entry.getKey() < keepFrom) {
                    entries.remove();
                } else if (entry.getKey() > t - withinMs && entry.getKey() <= t) {
                    count += entry.getValue();
                }
            }
            if (count >= atLeast) {
                out.collect(raised(event, t, count));
            }
        }

        /** The row `event` raises: event id, time, the key's columns, ad, user and the count. */
        private Row raised(Row event, long t, long count) {
            Row row = Row.withPositions(5 + keyArity);
            row.setField(0, event.getField(2));
            row.setField(1, t);
            for (int i = 0; i < keyArity; i++) {
                row.setField(2 + i, event.getField(IN.length + i));
            }
            row.setField(2 + keyArity, event.getField(4));
            row.setField(3 + keyArity, event.getField(5));
            row.setField(4 + keyArity, count);
            return row;
        }
    }

    /**
     * What a per-key rule is keyed by: the events view's key columns, their names in the result
     * table and their types. A declared key of text, a boolean or several fields is its own
     * columns (`__key_<i>`), written under the fields' names; any other key is `group_key`, one
     * whole number, written as `key`.
     */
    record RuleKey(String[] columns, String[] names, TypeInformation<?>[] types) {
        static RuleKey of(JsonNode job) {
            if (!namedKey(job)) {
                return new RuleKey(new String[] {"group_key"}, new String[] {"key"},
                    new TypeInformation<?>[] {Types.LONG});
            }
            JsonNode keys = job.get("declared").get("keys");
            String[] columns = new String[keys.size()];
            String[] names = new String[keys.size()];
            TypeInformation<?>[] types = new TypeInformation<?>[keys.size()];
            for (int i = 0; i < keys.size(); i++) {
                columns[i] = "__key_" + i;
                names[i] = keys.get(i).get("name").asText();
                types[i] = switch (keys.get(i).get("sql_type").asText()) {
                    case "STRING" -> Types.STRING;
                    case "BOOLEAN" -> Types.BOOLEAN;
                    default -> Types.LONG;
                };
            }
            return new RuleKey(columns, names, types);
        }

        boolean whole() {
            return names.length == 1 && names[0].equals("key");
        }

        /** The rule's rows: event id, time, the key's columns, ad, user and the count. */
        TypeInformation<Row> rows() {
            String[] rowNames = new String[5 + names.length];
            TypeInformation<?>[] rowTypes = new TypeInformation<?>[rowNames.length];
            rowNames[0] = "event_id";
            rowNames[1] = "event_time_ms";
            rowTypes[0] = rowTypes[1] = Types.LONG;
            for (int i = 0; i < names.length; i++) {
                rowNames[2 + i] = names[i];
                rowTypes[2 + i] = types[i];
            }
            String[] rest = {"ad_id", "user_id", "event_count"};
            for (int i = 0; i < rest.length; i++) {
                rowNames[2 + names.length + i] = rest[i];
                rowTypes[2 + names.length + i] = Types.LONG;
            }
            return Types.ROW_NAMED(rowNames, rowTypes);
        }
    }

    /** Whether a job's key is a declared key written as its own columns (not the one `key`). */
    static boolean namedKey(JsonNode job) {
        boolean named = job.hasNonNull("declared");
        for (JsonNode column : job.get("result_columns")) {
            named &= !column.asText().equals("key");
        }
        return named;
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
        // Flink's execution configuration: "enabling the object reuse mode will instruct the
        // runtime to reuse user objects for better performance". Safe here: the source makes a
        // new row per record and no function keeps one.
        config.setString("pipeline.object-reuse", "true");
        // Flink SQL's performance tuning: local-global (two-phase) aggregation aggregates each
        // mini-batch before the shuffle, which window TVF aggregation always has, so the window
        // operator receives one accumulator per key and batch instead of every record. Session
        // windows do not support it.
        String windowKind = spec.get("window").get("kind").asText();
        if (windowKind.equals("tumbling") || windowKind.equals("sliding")) {
            config.setString("table.optimizer.agg-phase-strategy", "TWO_PHASE");
        }
        String state = job.get("state_uri").asText();
        config.setString("execution.checkpointing.dir", state + "/checkpoints");
        config.setString("execution.checkpointing.savepoint-dir", state + "/savepoints");
        config.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
        config.setString("state.backend.type", "hashmap");
        // Flink's own default, which its documentation recommends ("Task Failure Recovery"): with
        // checkpoints, a failed task (a JDBC write while PostgreSQL is down: the sink's reconnect
        // fails at once) restarts the job from its latest checkpoint, after 1 s and then 1.5 times
        // longer each time, up to 1 min; a job that fails 10 times in a row ends, and with it this
        // process. Without checkpoints there is nothing to restart from: a failure ends the job.
        if (job.hasNonNull("checkpoint_interval_ms")) {
            config.setString("restart-strategy.type", "exponential-delay");
            config.setString("restart-strategy.exponential-delay.attempts-before-reset-backoff", "10");
        } else {
            config.setString("restart-strategy.type", "none");
        }
        config.setString("table.local-time-zone", "UTC");
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
        tables.createTemporarySystemFunction("earliest_value", new ValueAtEnd(false));
        tables.createTemporarySystemFunction("latest_value", new ValueAtEnd(true));
        Map<Long, Long> campaigns = new HashMap<>();
        for (JsonNode pair : job.get("campaigns")) {
            campaigns.put(pair.get(0).asLong(), pair.get(1).asLong());
        }
        tables.createTemporarySystemFunction("campaign_of", new CampaignOf(campaigns));

        String kind = job.get("input").asText();
        long delay = spec.get("watermark_delay_ms").asLong();
        int maxBytes = job.get("max_event_bytes").asInt();
        boolean declared = job.hasNonNull("declared");
        TimedRecords decoder = declared ? new DeclaredRecords(job.get("declared"), maxBytes)
            : new EventRecords(kind, maxBytes);
        tables.createTemporaryView("records", tables.fromDataStream(records(env, job, decoder, delay),
            Schema.newBuilder()
                .columnByMetadata("rowtime", "TIMESTAMP_LTZ(3)")
                .watermark("rowtime", "SOURCE_WATERMARK()")
                .build()));
        if (declared) {
            registerDeclaredFunctions(tables);
            declaredViews(tables, job);
        } else {
            catalogueViews(tables, job, spec, kind);
        }

        String jdbc = "'connector' = 'jdbc', 'url' = " + literal(job.get("jdbc_url").asText())
            + ", 'username' = " + literal(job.get("jdbc_user").asText())
            + ", 'password' = " + literal(job.get("jdbc_password").asText())
            // The JDBC connector buffers rows and writes them when it has this many or this long
            // after the first (its defaults: 100 rows, 1 s), and at every checkpoint.
            + ", 'sink.buffer-flush.max-rows' = '" + job.get("jdbc_batch_rows").asLong() + "'"
            + ", 'sink.buffer-flush.interval' = '" + job.get("jdbc_flush_interval_ms").asLong() + " ms'";
        String[] query = spec.get("window").get("kind").asText().equals("burst") ? burst(tables, spec, job, jdbc)
            : job.get("per_event").asBoolean() ? perEvent(job) : windowed(spec, job);
        String select = query[0];
        StringBuilder columns = new StringBuilder(query[1]);
        if (job.get("delivery").asText().equals("upsert")) {
            columns.append(", PRIMARY KEY (");
            for (int i = 0; i < job.get("result_key").size(); i++) {
                columns.append(i == 0 ? "" : ", ").append(quoted(job.get("result_key").get(i).asText()));
            }
            columns.append(") NOT ENFORCED");
        }
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
        if (query.length > 2) {
            statements.addInsertSql(query[2]);
        }
        statements.addInsertSql(
            "INSERT INTO dead_letters SELECT `partition`, `offset`, `raw`, `error` FROM parsed WHERE NOT ok");
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

    /** A catalogue job's views: `parsed`, every record decoded, and `events`, the kept ones keyed. */
    static void catalogueViews(StreamTableEnvironment tables, JsonNode job, JsonNode spec, String kind) {
        tables.executeSql(
            "CREATE TEMPORARY VIEW parsed AS SELECT `partition`, `offset`, `raw`, rowtime AS ts, ok, event_time_ms,"
                + " source_key, `value`, event_type, event_id, user_id, `error` FROM records");
        String events;
        if (kind.equals("ad")) {
            JsonNode filter = spec.get("filter");
            String wanted = filter != null && filter.hasNonNull("ad_event_type")
                ? " AND event_type = " + literal(filter.get("ad_event_type").asText())
                : "";
            // The job's key: the ad's campaign (the YSB enrichment), the user, or the ad.
            String key = spec.get("key").asText();
            String groupKey = key.equals("campaign") ? "campaign_of(source_key)"
                : key.equals("user") ? "user_id" : "source_key";
            events = "SELECT ts, `partition`, `offset`, event_time_ms, " + groupKey + " AS group_key, `value`,"
                + " event_id, source_key AS ad_id, user_id FROM parsed WHERE ok" + wanted
                + " AND " + groupKey + " IS NOT NULL";
        } else {
            events = "SELECT ts, event_time_ms, source_key AS group_key, `value` FROM parsed WHERE ok";
        }
        // End-of-input markers (dated 2100) only move the watermark.
        events += " AND event_time_ms < " + job.get("end_of_input_ms").asLong();
        tables.executeSql("CREATE TEMPORARY VIEW events AS " + events);
    }

    /**
     * The windowed query over the `events` view (a TUMBLE / HOP / SESSION window table-valued
     * function with the job's aggregates) and its result table's columns.
     */
    static String[] windowed(JsonNode spec, JsonNode job) {
        JsonNode window = spec.get("window");
        String[] keys = groupKeys(job);
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
                String partition = keys[0].contains(",") ? "(" + keys[0] + ")" : keys[0];
                tvf = "SESSION(TABLE events PARTITION BY " + partition + ", DESCRIPTOR(ts), "
                    + interval(window.get("gap_ms").asLong()) + ")";
        }
        StringBuilder select = new StringBuilder(
            "SELECT " + keys[0] + ", epoch_millis(CAST(window_start AS TIMESTAMP(3))), epoch_millis(CAST(window_end AS TIMESTAMP(3)))");
        StringBuilder columns = new StringBuilder(keys[1] + ", window_start_ms BIGINT, window_end_ms BIGINT");
        for (JsonNode aggregate : job.get("aggregates")) {
            String kind = aggregate.get("kind").asText();
            String[] column = aggregateColumn(kind, aggregateOf(kind, aggregate.get("field").asText()),
                aggregate.get("decimals"));
            select.append(", ").append(column[0]);
            columns.append(", ").append(quoted(aggregate.get("column").asText())).append(column[1]);
        }
        select.append(", CAST(0 AS BIGINT), ").append(literal(job.get("engine").asText()))
            .append(" FROM TABLE(").append(tvf).append(") GROUP BY ").append(keys[0]).append(", window_start, window_end");
        columns.append(", revision BIGINT, engine STRING");
        return new String[] {select.toString(), columns.toString()};
    }

    /**
     * The SQL of the aggregate `kind` over the events view's value column `field` (`value`,
     * `value_1`, ...).
     */
    static String aggregateOf(String kind, String field) {
        String value = quoted(field);
        return switch (kind) {
            case "count" -> "COUNT(*)";
            case "sum" -> "SUM(" + value + ")";
            case "min" -> "MIN(" + value + ")";
            case "max" -> "MAX(" + value + ")";
            case "mean" -> "AVG(CAST(" + value + " AS DOUBLE))";
            case "first_event_time" -> "MIN(event_time_ms)";
            case "last_event_time" -> "MAX(event_time_ms)";
            case "first_value" -> "earliest_value(" + value + ", event_time_ms, event_id)";
            case "last_value" -> "latest_value(" + value + ", event_time_ms, event_id)";
            case "count_distinct" -> "COUNT(DISTINCT " + value + ")";
            default -> throw new IllegalArgumentException("an aggregate this job does not know: " + kind);
        };
    }

    /**
     * One aggregate's expression and its column's type: a whole number, or a float for the mean
     * and, when the job aggregates a float in units of its `decimals`, for the sum, minimum,
     * maximum, first and last value too, divided back by 10^decimals (streambench's engines write
     * the same division).
     */
    static String[] aggregateColumn(String kind, String expression, JsonNode decimals) {
        boolean ofValue = java.util.Set.of("sum", "min", "max", "first_value", "last_value").contains(kind);
        String scale = decimals == null || decimals.isNull() ? null
            : "CAST(" + java.math.BigInteger.TEN.pow(decimals.asInt()) + " AS DOUBLE)";
        if (kind.equals("mean")) {
            return new String[] {scale == null ? expression : expression + " / " + scale, " DOUBLE"};
        }
        if (ofValue && scale != null) {
            return new String[] {"CAST(" + expression + " AS DOUBLE) / " + scale, " DOUBLE"};
        }
        return new String[] {"CAST(" + expression + " AS BIGINT)", " BIGINT"};
    }

    /**
     * The stateless per-event query over the `events` view (`alerts`: a row per kept event, the
     * filter and the campaign lookup only, no window or state) and its result table's columns. A
     * declared key of text, a boolean or several fields is written as its own columns, in place of
     * the whole-number `key`.
     */
    static String[] perEvent(JsonNode job) {
        Map<String, String> keyTypes = new HashMap<>();
        boolean named = namedKey(job);
        if (named) {
            for (JsonNode key : job.get("declared").get("keys")) {
                keyTypes.put(key.get("name").asText(), key.get("sql_type").asText());
            }
        }
        String select = "SELECT event_id, event_time_ms, " + (named ? groupKeys(job)[0] : "group_key")
            + ", ad_id, user_id, CAST(1 AS BIGINT), " + literal(job.get("engine").asText()) + " FROM events";
        StringBuilder columns = new StringBuilder();
        for (JsonNode column : job.get("result_columns")) {
            columns.append(quoted(column.asText())).append(' ')
                .append(keyTypes.getOrDefault(column.asText(), "BIGINT")).append(", ");
        }
        return new String[] {select, columns.append("engine STRING").toString()};
    }

    /**
     * The per-key rule's query (`fraud`): the events view as a DataStream keyed by the job's key
     * ({@link RuleKey}) through {@link BurstRule}, its rows as the `rule_rows` view; returns the
     * query, the result table's columns, and the insert writing the rule's late events to the late
     * table.
     */
    static String[] burst(StreamTableEnvironment tables, JsonNode spec, JsonNode job, String jdbc) {
        JsonNode window = spec.get("window");
        RuleKey key = RuleKey.of(job);
        String[] in = java.util.stream.Stream.concat(java.util.Arrays.stream(BurstRule.IN),
            java.util.Arrays.stream(key.columns())).map(FlinkJob::quoted).toArray(String[]::new);
        DataStream<Row> events = tables.toDataStream(tables.sqlQuery(
            "SELECT " + String.join(", ", in) + " FROM events"));
        long within = window.get("within_ms").asLong();
        long atLeast = window.get("at_least").asLong();
        long delay = spec.get("watermark_delay_ms").asLong();
        int first = BurstRule.IN.length;
        int[] keyAt = java.util.stream.IntStream.range(first, first + key.columns().length).toArray();
        SingleOutputStreamOperator<Row> rows = key.whole()
            ? events.keyBy(event -> (Long) event.getField(first), Types.LONG)
                .process(new BurstRule<Long>(within, atLeast, delay, 1), key.rows())
            : events.keyBy(event -> Row.project(event, keyAt), Types.ROW(key.types()))
                .process(new BurstRule<Row>(within, atLeast, delay, keyAt.length), key.rows());
        rows.name("fraud rule");
        tables.createTemporaryView("rule_rows", tables.fromDataStream(rows));
        tables.createTemporaryView("rule_late", tables.fromDataStream(rows.getSideOutput(BurstRule.LATE)));
        tables.executeSql("CREATE TABLE late (`partition` INT, record_offset BIGINT, event_id BIGINT, `key` BIGINT,"
            + " event_time_ms BIGINT, watermark_ms BIGINT, PRIMARY KEY (`partition`, record_offset) NOT ENFORCED)"
            + " WITH (" + jdbc + ", 'table-name' = " + literal(job.get("late_view").asText()) + ")");
        String keyNames = String.join(", ", java.util.Arrays.stream(key.names()).map(FlinkJob::quoted)
            .toArray(String[]::new));
        String select = "SELECT event_id, event_time_ms, " + keyNames + ", ad_id, user_id, event_count, "
            + literal(job.get("engine").asText()) + " FROM rule_rows";
        return new String[] {select, perEvent(job)[1], "INSERT INTO late SELECT * FROM rule_late"};
    }

    /**
     * The topic's records as Flink's Kafka source reads them, decoded once ({@link EventRecords}),
     * with per-partition watermarks on the event time: `delay` behind the newest event (and one
     * millisecond more, as Flink's bounded out-of-orderness does: an event exactly `delay` behind
     * is still on time), idle partitions left out after the idle timeout. Records that are not
     * events get the epoch as their time, which never moves a watermark.
     */
    static DataStream<Row> records(StreamExecutionEnvironment env, JsonNode job, TimedRecords decoder, long delay) {
        JsonNode startNode = job.get("start");
        OffsetsInitializer start;
        if (startNode.isObject()) {
            start = OffsetsInitializer.timestamp(startNode.get("timestamp").asLong());
        } else if (startNode.asText().equals("latest")) {
            start = OffsetsInitializer.latest();
        } else {
            start = OffsetsInitializer.earliest();
        }
        KafkaSourceBuilder<Row> source = KafkaSource.<Row>builder()
            .setBootstrapServers(job.get("brokers").asText())
            .setTopics(job.get("topic").asText())
            .setGroupId(job.get("group").asText())
            .setStartingOffsets(start)
            .setDeserializer(decoder)
            .setProperty("commit.offsets.on.checkpoint", "true");
        if (job.get("bounded").asBoolean()) {
            source.setBounded(OffsetsInitializer.latest());
        }
        WatermarkStrategy<Row> watermarks = WatermarkStrategy.<Row>forBoundedOutOfOrderness(Duration.ofMillis(delay))
            .withTimestampAssigner((row, previous) -> (Boolean) row.getField(3) ? (Long) row.getField(4) : 0L)
            .withIdleness(Duration.ofMillis(job.get("idle_timeout_ms").asLong()));
        return env.fromSource(source.build(), watermarks, "records");
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
