//! MongoDB Extended JSON (v2) on the wire between sandboxes (and the napi
//! edge) and the core. Results are *relaxed* Extended JSON: ObjectId →
//! `{"$oid"}`, Date → `{"$date": "<ISO-8601>"}`, bytes → `{"$binary"}`,
//! numbers as plain JSON numbers. Arguments may be relaxed or canonical.

use mongodb::bson::{Bson, Document};
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

    #[test]
    fn non_objects_are_named() {
        let e = to_document(json!([1]), "filter").unwrap_err();
        assert_eq!(e.to_string(), "filter must be an object, got an array");
    }
}
