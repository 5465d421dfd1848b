//! Canonical JSON: the one byte form in which event data is stored and hashed.
//!
//! Object keys are sorted and no insignificant whitespace is written, so two payloads that
//! mean the same thing are the same bytes. That is what makes idempotent retries comparable
//! and the hash chain reproducible, whatever serde_json features other crates switch on.
use serde_json::Value;

use crate::error::StoreError;

/// Parses `bytes` as JSON and returns its canonical form.
pub fn canonicalize(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::invalid("event data", format!("not valid JSON: {e}")))?;
    Ok(to_canonical_vec(&value))
}

/// Writes `value` in canonical form.
pub fn to_canonical_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, v);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, v);
            }
            out.push(b']');
        }
        // Scalars have a single serde_json rendering already.
        scalar => write_scalar(out, scalar),
    }
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // serde_json's string escaping is canonical (shortest escapes, UTF-8 kept as is).
    write_scalar(out, s);
}

fn write_scalar<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing strings, numbers, booleans and null into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a = canonicalize(br#"{ "b": 1, "a": {"y": [1, 2], "x": "\u00e9"} }"#).unwrap();
        let b = canonicalize(r#"{"a":{"x":"é","y":[1,2]},"b":1}"#.as_bytes()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, r#"{"a":{"x":"é","y":[1,2]},"b":1}"#.as_bytes());
    }

    #[test]
    fn invalid_json_is_refused() {
        let err = canonicalize(b"{not json").unwrap_err();
        assert!(err.to_string().contains("event data"), "{err}");
    }
}
