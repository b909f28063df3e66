//! How streambench runs a job: the Kafka source, the PostgreSQL sinks in their
//! three delivery modes, checkpoint stores, and the two engines that share them
//! (continuous, event by event; micro-batch, Spark Structured Streaming's model).
