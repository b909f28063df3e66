package streambench;

import java.io.FileWriter;
import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Properties;

import org.apache.spark.sql.ForeachWriter;
import org.apache.spark.sql.Row;

/**
 * The sink of the `spark_realtime` engine: Spark's ForeachWriter, the sink
 * the Real-time Mode guide names for external systems, run in the JVM as a
 * Spark user after real-time latency would run it. Each row is written and
 * committed in PostgreSQL as Spark hands it over (JDBC, autocommit), with the
 * statement of the delivery mode (insert, or upsert on the row's key). A lost
 * or refused connection is retried with backoff for up to five minutes, as
 * streambench's own engines do through a database outage.
 */
public final class SparkRowWriter extends ForeachWriter<Row> {
    private static final long RETRY_FOR_MS = 300_000;

    private final String url;
    private final String user;
    private final String password;
    private final String statement;
    private final String engine;
    private final String progressFile;

    private transient Connection connection;
    private transient PreparedStatement insert;
    private transient long batchId;
    private transient long rows;

    /** A writer of `statement` (JDBC placeholders: the row's columns, then the engine's name). */
    public SparkRowWriter(
            String url, String user, String password, String statement, String engine, String progressFile) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.statement = statement;
        this.engine = engine;
        this.progressFile = progressFile;
    }

    @Override
    public boolean open(long partitionId, long epochId) {
        batchId = epochId;
        rows = 0;
        return true;
    }

    @Override
    public void process(Row row) {
        long started = System.currentTimeMillis();
        long backoffMs = 100;
        while (true) {
            try {
                write(row);
                rows++;
                return;
            } catch (SQLException error) {
                closeQuietly();
                if (System.currentTimeMillis() - started > RETRY_FOR_MS) {
                    throw new RuntimeException("PostgreSQL write failed: " + error.getMessage(), error);
                }
                System.err.println("PostgreSQL write failed (" + error.getMessage() + "); retrying in "
                        + backoffMs + " ms");
                sleep(backoffMs);
                backoffMs = Math.min(backoffMs * 2, 5_000);
            }
        }
    }

    private void write(Row row) throws SQLException {
        if (connection == null) {
            Properties properties = new Properties();
            properties.setProperty("user", user);
            properties.setProperty("password", password);
            connection = DriverManager.getConnection(url, properties);
            connection.setAutoCommit(true);
            insert = connection.prepareStatement(statement);
        }
        for (int i = 0; i < row.size(); i++) {
            insert.setObject(i + 1, row.get(i));
        }
        insert.setString(row.size() + 1, engine);
        insert.executeUpdate();
    }

    @Override
    public void close(Throwable error) {
        closeQuietly();
        if (rows == 0) {
            return;
        }
        // One short line per partition and batch: appends do not interleave.
        String line = "{\"written\": {\"batchId\": " + batchId + ", \"rows\": " + rows + "}}\n";
        try (FileWriter out = new FileWriter(progressFile, true)) {
            out.write(line);
        } catch (IOException ignored) {
            // The count is a metric; the rows are already committed.
        }
    }

    private void closeQuietly() {
        try {
            if (connection != null) {
                connection.close();
            }
        } catch (SQLException ignored) {
            // Closing a broken connection.
        }
        connection = null;
        insert = null;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new RuntimeException("interrupted while waiting to retry a write", interrupted);
        }
    }
}
