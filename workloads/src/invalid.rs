//! Why a job, a window, a rate profile or a suite's matrix cannot be used:
//! one error for every check of a spec, its message naming the setting.

/// A spec that cannot be used, and why, in words that name the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(reason: String) -> Invalid {
        Invalid(reason)
    }
}

impl From<Invalid> for String {
    fn from(invalid: Invalid) -> String {
        invalid.0
    }
}
