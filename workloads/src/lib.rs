//! What streambench runs: the event model, the seeded event generator, the job
//! catalogue, the oracle that computes every job's exact expected output, and
//! the suite files that combine them.
