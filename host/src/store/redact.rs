//! Database URLs fit for logs and errors: every password they can carry is
//! replaced, whether in the user-info (`postgres://user:pw@host/db`), in a
//! query parameter (`?password=pw`, which libpq and sqlx also accept), or in
//! a libpq key/value string (`host=h password=pw`).

/// What a password is replaced with.
const MASK: &str = "***";

/// `url` with its passwords replaced by `***`.
pub fn redact(url: &str) -> String {
    let url = redact_user_info(url);
    redact_password_pairs(&url)
}

fn redact_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}://{}:{MASK}{}", &url[..scheme_end], &authority[..colon], &rest[at..])
        }
        _ => url.to_owned(),
    }
}

/// Masks the value of every `password=` (any case) that starts a query
/// parameter or a key/value pair; the value ends at `&`, whitespace or the
/// end (a quoted key/value value ends at its closing quote).
fn redact_password_pairs(text: &str) -> String {
    const KEY: &str = "password=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find(KEY) {
        let key_start = search + found;
        let value_start = key_start + KEY.len();
        search = value_start;
        let starts_pair =
            key_start == 0 || matches!(text.as_bytes()[key_start - 1], b'?' | b'&' | b' ' | b'\t' | b'\n');
        if !starts_pair {
            continue;
        }
        let value = &text[value_start..];
        let value_len = if let Some(quoted) = value.strip_prefix('\'') {
            quoted.find('\'').map_or(value.len(), |end| end + 2)
        } else {
            value.find(['&', ' ', '\t', '\n']).unwrap_or(value.len())
        };
        out.push_str(&text[copied..value_start]);
        out.push_str(MASK);
        copied = value_start + value_len;
        search = copied;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_in_the_user_info_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./data/wasap.db"), "sqlite://./data/wasap.db");
    }

    #[test]
    fn password_parameters_are_redacted() {
        assert_eq!(
            redact("postgres://u@h/db?password=secret&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://h/db?sslmode=disable&PASSWORD=s3"),
            "postgres://h/db?sslmode=disable&PASSWORD=***"
        );
        assert_eq!(
            redact("postgres://a:b@h/db?password=c"),
            "postgres://a:***@h/db?password=***"
        );
        assert_eq!(
            redact("host=h user=u password=secret dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert_eq!(redact("host=h password='a b' dbname=d"), "host=h password=*** dbname=d");
        // Only a key that starts a pair: `xpassword=` is some other key.
        assert_eq!(redact("postgres://h/db?xpassword=v"), "postgres://h/db?xpassword=v");
        let redacted = redact("postgres://h/db?password=top-secret");
        assert!(!redacted.contains("top-secret"), "{redacted}");
    }
}
