//! MongoDB Extended JSON (v2) on the wire between sandboxes (and the napi
//! edge) and the core. Results are *relaxed* Extended JSON: ObjectId →
//! `{"$oid"}`, Date → `{"$date": "<ISO-8601>"}`, bytes → `{"$binary"}`,
//! numbers as plain JSON numbers. Arguments may be relaxed or canonical.

use mongodb::bson::raw::Error as RawError;
use mongodb::bson::{Bson, Document, RawBsonRef, RawDocumentBuf};
use serde_json::Value;

use crate::error::{Error, Result};

pub fn to_bson(v: Value) -> Result<Bson> {
    Bson::try_from(v).map_err(|e| Error::invalid(format!("invalid Extended JSON value: {e}")))
}

/// An object as a document; `what` names the argument in the error.
pub fn to_document(v: Value, what: &str) -> Result<Document> {
    match to_bson(v)? {
        Bson::Document(d) => Ok(d),
        other => Err(Error::invalid(format!(
            "{what} must be an object, got {}",
            type_name(&other)
        ))),
    }
}

pub fn from_bson(b: Bson) -> Value {
    b.into_relaxed_extjson()
}

pub fn from_document(d: Document) -> Value {
    Bson::Document(d).into_relaxed_extjson()
}

/// [`from_bson`] written straight to JSON text, for results that leave as
/// text (host code's `Cloud.call`): no `serde_json::Value` tree in between,
/// which cost most of the time of a 1 000-document read. The same relaxed
/// form, except dates, which are `{"$date":{"$numberLong":"<ms>"}}` (no
/// calendar formatting; every reader takes both). Rare types go through
/// [`from_bson`].
pub fn to_json_text(b: &Bson) -> String {
    let mut out = Vec::with_capacity(256);
    write_json(b, &mut out);
    // Every piece written is UTF-8 (serde_json's own output, ASCII).
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn write_json(b: &Bson, out: &mut Vec<u8>) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail; serde_json's errors here would be ours.
    let text = |out: &mut Vec<u8>, s: &str| {
        let _ = serde_json::to_writer(&mut *out, s);
    };
    match b {
        Bson::Document(d) => {
            out.push(b'{');
            for (i, (k, v)) in d.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                text(out, k);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
        Bson::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(v, out);
            }
            out.push(b']');
        }
        Bson::String(s) => text(out, s),
        Bson::Int32(n) => {
            let _ = write!(out, "{n}");
        }
        Bson::Int64(n) => {
            let _ = write!(out, "{n}");
        }
        Bson::Double(f) if f.is_finite() => {
            let _ = serde_json::to_writer(&mut *out, f);
        }
        Bson::Boolean(x) => out.extend_from_slice(if *x { b"true" } else { b"false" }),
        Bson::Null => out.extend_from_slice(b"null"),
        Bson::ObjectId(id) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(br#"{"$oid":""#);
            for b in id.bytes() {
                out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
            out.extend_from_slice(br#""}"#);
        }
        Bson::DateTime(d) => {
            let _ = write!(
                out,
                "{{\"$date\":{{\"$numberLong\":\"{}\"}}}}",
                d.timestamp_millis()
            );
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, &other.clone().into_relaxed_extjson());
        }
    }
}

/// Raw BSON documents (a `find` read straight from the socket) as a JSON
/// array in the form of [`to_json_text`].
pub fn raw_docs_to_json_text(docs: &[RawDocumentBuf]) -> Result<String> {
    let mut out = Vec::with_capacity(docs.iter().map(|d| d.as_bytes().len() + 8).sum());
    out.push(b'[');
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_raw(RawBsonRef::Document(d), &mut out)
            .map_err(|e| Error::Io(format!("the database sent a malformed document: {e}")))?;
    }
    out.push(b']');
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn write_raw(v: RawBsonRef<'_>, out: &mut Vec<u8>) -> std::result::Result<(), RawError> {
    match v {
        RawBsonRef::Document(d) => {
            out.push(b'{');
            for (i, item) in d.iter().enumerate() {
                let (k, v) = item?;
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_raw(v, out)?;
            }
            out.push(b'}');
        }
        RawBsonRef::Array(a) => {
            out.push(b'[');
            for (i, v) in a.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_raw(v?, out)?;
            }
            out.push(b']');
        }
        RawBsonRef::String(s) => {
            let _ = serde_json::to_writer(&mut *out, s);
        }
        // Scalars: cheap to lift into `Bson` (no allocation but for bytes).
        other => write_json(&Bson::try_from(other)?, out),
    }
    Ok(())
}

fn type_name(b: &Bson) -> &'static str {
    match b {
        Bson::Array(_) => "an array",
        Bson::String(_) => "a string",
        Bson::Null => "null",
        Bson::Boolean(_) => "a boolean",
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => "a number",
        _ => "another type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_ids_dates_and_bytes_round_trip() {
        let v = json!({
            "_id": { "$oid": "65f000000000000000000001" },
            "at": { "$date": "2024-02-29T12:34:56.789Z" },
            "canonical": { "$date": { "$numberLong": "0" } },
            "bytes": { "$binary": { "base64": "AAEC/w==", "subType": "00" } },
            "n": 3, "x": 1.5, "s": "é"
        });
        let d = to_document(v, "doc").unwrap();
        assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))));
        assert!(matches!(d.get("at"), Some(Bson::DateTime(_))));
        let back = from_document(d);
        assert_eq!(back["_id"], json!({ "$oid": "65f000000000000000000001" }));
        assert_eq!(back["at"], json!({ "$date": "2024-02-29T12:34:56.789Z" }));
        assert_eq!(
            back["canonical"],
            json!({ "$date": "1970-01-01T00:00:00Z" })
        );
        assert_eq!(back["bytes"]["$binary"]["base64"], json!("AAEC/w=="));
        assert_eq!(back["n"], json!(3));
    }

    /// The text writer reads back as the `Value` path does: the same
    /// document (dates in their canonical form).
    #[test]
    fn json_text_matches_the_value_path() {
        let v = json!({
            "_id": { "$oid": "65f000000000000000000001" },
            "at": { "$date": "2024-02-29T12:34:56.789Z" },
            "bytes": { "$binary": { "base64": "AAEC/w==", "subType": "00" } },
            "dec": { "$numberDecimal": "1.5" },
            "big": { "$numberLong": "9007199254740993" },
            "nan": { "$numberDouble": "NaN" },
            "n": 3, "x": 1.5, "s": "é\"\n", "a": [null, true, { "k": [] }]
        });
        let d = to_document(v, "doc").unwrap();
        let text = to_json_text(&Bson::Document(d.clone()));
        let mut back = to_document(serde_json::from_str(&text).unwrap(), "back").unwrap();
        // NaN is not equal to itself: checked apart.
        assert!(matches!(back.remove("nan"), Some(Bson::Double(x)) if x.is_nan()));
        let mut d = d;
        d.remove("nan");
        assert_eq!(back, d);
        assert!(text.contains(r#""at":{"$date":{"$numberLong":"1709210096789"}}"#));
    }

    /// Raw documents are written exactly as their decoded form is.
    #[test]
    fn raw_documents_match_decoded_ones() {
        let v = json!({
            "_id": { "$oid": "65f000000000000000000001" },
            "at": { "$date": "2024-02-29T12:34:56.789Z" },
            "bytes": { "$binary": { "base64": "AAEC/w==", "subType": "00" } },
            "dec": { "$numberDecimal": "1.5" }, "big": { "$numberLong": "7" },
            "n": 3, "x": 1.5, "s": "é\"\n", "a": [null, true, { "k": [[], {}] }]
        });
        let d = to_document(v, "doc").unwrap();
        let raw = RawDocumentBuf::from_document(&d).unwrap();
        let docs = [raw.clone(), raw];
        let text = raw_docs_to_json_text(&docs).unwrap();
        let one = to_json_text(&Bson::Document(d));
        assert_eq!(text, format!("[{one},{one}]"));
        assert_eq!(raw_docs_to_json_text(&[]).unwrap(), "[]");
    }

    #[test]
    fn non_objects_are_named() {
        let e = to_document(json!([1]), "filter").unwrap_err();
        assert_eq!(e.to_string(), "filter must be an object, got an array");
    }
}
