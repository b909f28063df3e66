//! External engines: real stream processors run on the same topics, jobs and
//! tables as streambench's own engines, so the harness measures and checks
//! them the same way. Each adapter is a child process streambench starts
//! and watches; what every adapter must do is the engine contract in the
//! README ("Plugging in another engine").

pub mod driver;
pub mod end_of_input;
pub mod flink;
pub mod flink_rest;
pub mod spark;
pub mod spark_realtime;
