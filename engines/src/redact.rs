//! Keeps secrets out of what streambench prints and writes.

/// A PostgreSQL (or any) URL with its password replaced by `***`, for logs,
/// messages, results and reports.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_key_value(url);
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return format!("{}{}", &url[..authority_end], redact_query(&url[authority_end..]));
    };
    let userinfo = &authority[..at];
    let redacted_userinfo = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    format!(
        "{}{}{}{}",
        &url[..authority_start],
        redacted_userinfo,
        &authority[at..],
        redact_query(&url[authority_end..])
    )
}

/// `?password=...` in a URL's query string.
fn redact_query(rest: &str) -> String {
    let Some(q) = rest.find('?') else {
        return rest.to_string();
    };
    let params: Vec<String> = rest[q + 1..]
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{}?{}", &rest[..q], params.join("&"))
}

/// The `key=value` connection-string form (`host=... password=...`).
fn redact_key_value(conn: &str) -> String {
    conn.split_whitespace()
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn password_in_userinfo_is_hidden() {
        assert_eq!(
            redact_url("postgres://bench:s3cret@db.local:5432/streambench"),
            "postgres://bench:***@db.local:5432/streambench"
        );
    }

    #[test]
    fn password_in_query_and_key_value_forms_is_hidden() {
        assert_eq!(
            redact_url("postgres://db/x?sslmode=disable&password=hunter2"),
            "postgres://db/x?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_url("host=db user=u password=hunter2"),
            "host=db user=u password=***"
        );
    }

    #[test]
    fn url_without_password_is_unchanged() {
        let url = "postgres://postgres@127.0.0.1:5433/streambench";
        assert_eq!(redact_url(url), url);
    }
}
