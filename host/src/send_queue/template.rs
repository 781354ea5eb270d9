//! The text template of a bulk send (docs/API.md, "Bulk sends"): literal
//! text with `{{name}}` placeholders, each replaced by the recipient's
//! variable of that name.
//!
//! The syntax is deliberately small, so that nothing in a template can
//! surprise: a placeholder is `{{`, optional spaces, a name of ASCII letters,
//! digits and `_` (at most [`MAX_NAME_BYTES`]), optional spaces, `}}`. Every
//! `{{` opens one; anything else between the braces (`{{first name}}`,
//! `{{#if x}}`, `{{}}`) and a `{{` never closed are errors, found before
//! anything is queued. A lone `}}` is text. There is no escape: a literal
//! `{{` is written through a variable whose value is `{{`. Values are put in
//! as they are (never read as templates themselves).

use std::collections::BTreeMap;

/// A placeholder's name, at most.
pub const MAX_NAME_BYTES: usize = 64;
/// Placeholders in one template, at most.
pub const MAX_PLACEHOLDERS: usize = 256;

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the placeholder opened at byte {0} is never closed with }}}}")]
    Unterminated(usize),
    #[error(
        "{{{{{0}}}}} is not a placeholder: a name is 1 to {MAX_NAME_BYTES} ASCII letters, digits or _ \
         (e.g. {{{{first_name}}}})"
    )]
    BadName(String),
    #[error("a template has at most {MAX_PLACEHOLDERS} placeholders")]
    TooManyPlaceholders,
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        let mut placeholders = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let inner = &rest[open + 2..];
            let close = inner.find("}}").ok_or(TemplateError::Unterminated(offset + open))?;
            let name = inner[..close].trim_matches(' ');
            if !is_name(name) {
                return Err(TemplateError::BadName(inner[..close].to_owned()));
            }
            placeholders += 1;
            if placeholders > MAX_PLACEHOLDERS {
                return Err(TemplateError::TooManyPlaceholders);
            }
            pieces.push(Piece::Var(name.to_owned()));
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template { pieces })
    }

    /// The names the template uses, each once, in the order they first appear.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for piece in &self.pieces {
            if let Piece::Var(name) = piece
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// The text for one recipient; `Err` names the first variable `vars` lacks.
    pub fn render(&self, vars: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(name) => out.push_str(vars.get(name).ok_or_else(|| name.clone())?),
            }
        }
        Ok(out)
    }
}

/// Whether `name` may name a variable.
pub fn is_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_BYTES && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn placeholders_are_replaced_and_text_is_kept() {
        let t = Template::parse("Hi {{name}}, order {{ order }} }} is {{name}}'s").unwrap();
        assert_eq!(t.names(), ["name", "order"]);
        let text = t.render(&vars(&[("name", "Ann {{x}}"), ("order", "42")])).unwrap();
        assert_eq!(text, "Hi Ann {{x}}, order 42 }} is Ann {{x}}'s");
        assert_eq!(t.render(&vars(&[("name", "Ann")])), Err("order".to_owned()));
        assert_eq!(Template::parse("plain").unwrap().render(&vars(&[])).unwrap(), "plain");
        assert_eq!(Template::parse("").unwrap().render(&vars(&[])).unwrap(), "");
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        assert_eq!(Template::parse("Hi {{name"), Err(TemplateError::Unterminated(3)));
        assert_eq!(Template::parse("a {{b}} {{"), Err(TemplateError::Unterminated(8)));
        for bad in ["{{}}", "{{ }}", "{{first name}}", "{{#if x}}", "{{{name}}}", "{{é}}"] {
            assert!(
                matches!(Template::parse(bad), Err(TemplateError::BadName(_))),
                "{bad} must be refused"
            );
        }
        let long = format!("{{{{{}}}}}", "a".repeat(MAX_NAME_BYTES + 1));
        assert!(matches!(Template::parse(&long), Err(TemplateError::BadName(_))));
        let many = "{{a}}".repeat(MAX_PLACEHOLDERS + 1);
        assert_eq!(Template::parse(&many), Err(TemplateError::TooManyPlaceholders));
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            Template::parse("{{x y}}").unwrap_err().to_string(),
            "{{x y}} is not a placeholder: a name is 1 to 64 ASCII letters, digits or _ (e.g. {{first_name}})"
        );
        assert_eq!(
            Template::parse("ab{{x").unwrap_err().to_string(),
            "the placeholder opened at byte 2 is never closed with }}"
        );
    }
}
