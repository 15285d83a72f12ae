//! The exported `ObjectId` class: what `insertOne` returns as `insertedId`
//! and what `find` results hold in `_id`. It also accepts the `bson`
//! package's ObjectIds and `{ $oid }` wherever an id is expected.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A MongoDB ObjectId (12 bytes, shown as 24 hex characters).
#[napi]
#[derive(Clone)]
pub struct ObjectId {
    pub(crate) hex: String,
}

fn process_random() -> &'static [u8; 5] {
    static R: OnceLock<[u8; 5]> = OnceLock::new();
    R.get_or_init(|| {
        let mut b = [0u8; 5];
        let _ = getrandom::fill(&mut b);
        b
    })
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub(crate) fn is_hex24(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ObjectId {
    pub(crate) fn from_hex(hex: &str) -> Self {
        ObjectId {
            hex: hex.to_ascii_lowercase(),
        }
    }

    fn generate() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(process_random());
        b[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        ObjectId {
            hex: b.iter().map(|x| format!("{x:02x}")).collect(),
        }
    }
}

#[napi]
impl ObjectId {
    /// A new id, or the id given as 24 hex characters.
    /// Throws `INVALID_ARGUMENT` for anything else.
    #[napi(constructor)]
    pub fn new(env: &Env, id: Option<String>) -> Result<Self> {
        match id {
            None => Ok(Self::generate()),
            Some(s) if is_hex24(&s) => Ok(Self::from_hex(&s)),
            Some(s) => crate::error::throw(
                env,
                Err(runtime_core::Error::invalid(format!(
                    "ObjectId must be a 24-character hex string, got {s:?}"
                ))),
            ),
        }
    }

    /// True for a 24-character hex string.
    #[napi]
    pub fn is_valid(id: String) -> bool {
        is_hex24(&id)
    }

    #[napi]
    pub fn create_from_hex_string(env: &Env, hex: String) -> Result<Self> {
        Self::new(env, Some(hex))
    }

    #[napi]
    pub fn to_hex_string(&self) -> String {
        self.hex.clone()
    }

    #[napi(js_name = "toString")]
    pub fn to_string_js(&self) -> String {
        self.hex.clone()
    }

    /// JSON form: the hex string, as the `bson` package does.
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> String {
        self.hex.clone()
    }

    /// `'ObjectId'`, so code written for the `bson` package recognises it.
    #[napi(getter, js_name = "_bsontype")]
    pub fn bsontype(&self) -> String {
        "ObjectId".into()
    }

    /// Same id? Accepts an ObjectId or a hex string.
    #[napi]
    pub fn equals(&self, other: Either<&ObjectId, String>) -> bool {
        match other {
            Either::A(o) => o.hex == self.hex,
            Either::B(s) => s.eq_ignore_ascii_case(&self.hex),
        }
    }

    /// The creation time encoded in the id.
    #[napi(ts_return_type = "Date")]
    pub fn get_timestamp<'env>(&self, env: &'env Env) -> Result<napi::JsDate<'env>> {
        let secs = u32::from_str_radix(&self.hex[..8], 16).unwrap_or(0);
        env.create_date(secs as f64 * 1000.0)
    }
}
