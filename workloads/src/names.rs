//! Names that end up in SQL and on the broker: checked before use, so that a
//! suite file can never inject SQL or make an invalid topic.

/// Whether `name` is a safe SQL identifier and topic name: 1 to 40 of
/// `a-z`, `0-9` and `_`, starting with a letter.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 40
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

#[cfg(test)]
mod tests {
    use super::is_identifier;

    #[test]
    fn only_plain_lower_case_names_pass() {
        assert!(is_identifier("ysb"));
        assert!(is_identifier("tumbling_2"));
        for bad in ["", "2x", "Ysb", "a-b", "a;drop table x", "a\"b", &"a".repeat(41)] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }
}
