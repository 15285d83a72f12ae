//! The exported `ObjectId` class: `bson`'s ObjectId for JavaScript, so an id
//! is always 12 valid bytes (a `{ $oid: "zz" }` from a function stays a plain
//! object instead of becoming a broken id).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use runtime_core::cloud::bson::oid::ObjectId as Oid;

/// A MongoDB ObjectId (12 bytes, shown as 24 hex characters).
#[napi]
#[derive(Clone)]
pub struct ObjectId {
    pub(crate) oid: Oid,
}

impl ObjectId {
    /// The id of 24 hex characters, or None.
    pub(crate) fn parse(hex: &str) -> Option<Self> {
        Oid::parse_str(hex).ok().map(|oid| ObjectId { oid })
    }
}

#[napi]
impl ObjectId {
    /// A new id, or the id given as 24 hex characters.
    /// Throws `INVALID_ARGUMENT` for anything else.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: &Env, id: Option<String>) -> Result<Self> {
        match id {
            None => Ok(ObjectId { oid: Oid::new() }),
            Some(s) => match Self::parse(&s) {
                Some(o) => Ok(o),
                None => crate::error::throw(
                    env,
                    Err(runtime_core::Error::invalid(format!(
                        "ObjectId must be a 24-character hex string, got {s:?}"
                    ))),
                ),
            },
        }
    }

    /// True for a 24-character hex string.
    #[napi(catch_unwind)]
    pub fn is_valid(id: String) -> bool {
        Oid::parse_str(&id).is_ok()
    }

    #[napi(catch_unwind)]
    pub fn create_from_hex_string(env: &Env, hex: String) -> Result<Self> {
        Self::new(env, Some(hex))
    }

    #[napi(catch_unwind)]
    pub fn to_hex_string(&self) -> String {
        self.oid.to_hex()
    }

    #[napi(js_name = "toString", catch_unwind)]
    pub fn to_string_js(&self) -> String {
        self.oid.to_hex()
    }

    /// JSON form: the hex string, as the `bson` package does.
    #[napi(js_name = "toJSON", catch_unwind)]
    pub fn to_json(&self) -> String {
        self.oid.to_hex()
    }

    /// `'ObjectId'`, so code written for the `bson` package recognises it.
    #[napi(getter, js_name = "_bsontype", catch_unwind)]
    pub fn bsontype(&self) -> String {
        "ObjectId".into()
    }

    /// Same id? Accepts an ObjectId or a hex string.
    #[napi(catch_unwind)]
    pub fn equals(&self, other: Either<&ObjectId, String>) -> bool {
        match other {
            Either::A(o) => o.oid == self.oid,
            Either::B(s) => Oid::parse_str(&s).is_ok_and(|o| o == self.oid),
        }
    }

    /// The creation time encoded in the id.
    #[napi(ts_return_type = "Date", catch_unwind)]
    pub fn get_timestamp<'env>(&self, env: &'env Env) -> Result<napi::JsDate<'env>> {
        env.create_date(self.oid.timestamp().timestamp_millis() as f64)
    }
}
