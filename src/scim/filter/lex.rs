//! The filter lexer: text into positioned tokens.

use super::super::error::ScimError;

/// A token of the filter grammar.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
    Num(serde_json::Number),
}

/// Splits a filter into tokens, each with the byte offset it starts at
/// (for error positions).
pub(super) fn lex(input: &str) -> Result<Vec<(usize, Tok)>, ScimError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            b'[' => {
                out.push((i, Tok::LBracket));
                i += 1;
            }
            b']' => {
                out.push((i, Tok::RBracket));
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                let mut escaped = false;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' if !escaped => escaped = true,
                        b'"' if !escaped => break,
                        _ => escaped = false,
                    }
                    i += 1;
                }
                if i >= bytes.len() {
                    return Err(ScimError::invalid_filter(format!(
                        "unterminated string starting at position {start}"
                    )));
                }
                let raw = &input[start..=i];
                let s: String = serde_json::from_str(raw).map_err(|_| {
                    ScimError::invalid_filter(format!("invalid string at position {start}"))
                })?;
                out.push((start, Tok::Str(s)));
                i += 1;
            }
            c if c.is_ascii_alphanumeric()
                || matches!(c, b'$' | b'_' | b'-')
                || (c == b'.' && matches!(out.last(), Some((_, Tok::RBracket)))) =>
            {
                // A run of word characters: an attribute path, a keyword, a
                // number, or an unquoted value (Entra ID: `externalId eq
                // jyoung`, ids such as `3f2a-...`, emails with `+` and `@`).
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'-' | b'$' | b'.' | b':' | b'@' | b'+'))
                {
                    i += 1;
                }
                let word = &input[start..i];
                let numeric = word.starts_with(|c: char| c.is_ascii_digit() || c == '-');
                match word.parse::<serde_json::Number>() {
                    Ok(n) if numeric => out.push((start, Tok::Num(n))),
                    _ => out.push((start, Tok::Word(word.to_string()))),
                }
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "unexpected character at position {i}"
                )));
            }
        }
    }
    Ok(out)
}
