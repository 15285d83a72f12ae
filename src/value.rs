//! JavaScript values ⇄ `bson::Bson`, the form in which the core's Cloud
//! takes arguments and gives results: ObjectIds (ours, the `bson`
//! package's, `{ $oid }`), Dates and Buffers survive the trip both ways,
//! and whole numbers become int32 as the Node driver stores them.

use napi::bindgen_prelude::*;
use napi::{sys, JsDate, JsValue, ValueType};
use runtime_core::cloud::bson::oid::ObjectId as Oid;
use runtime_core::cloud::bson::spec::BinarySubtype;
use runtime_core::cloud::bson::{Binary, Bson, DateTime, Document};
use serde_json::Value;

use crate::objectid::ObjectId;

/// Deepest nesting accepted; also how a circular value is caught.
const MAX_DEPTH: usize = 100;

/// Converts a JavaScript value to BSON.
pub fn to_bson(env: &Env, v: Unknown) -> std::result::Result<Bson, String> {
    convert(env, v, 0)
}

/// A JavaScript number as the Node driver stores it: whole numbers that fit
/// in 32 bits as int32, everything else (and -0) as a double.
fn number(n: f64) -> Bson {
    let int32 = n.fract() == 0.0
        && n >= i32::MIN as f64
        && n <= i32::MAX as f64
        && !(n == 0.0 && n.is_sign_negative());
    if int32 {
        Bson::Int32(n as i32)
    } else {
        Bson::Double(n)
    }
}

fn convert(env: &Env, v: Unknown, depth: usize) -> std::result::Result<Bson, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "value nested deeper than {MAX_DEPTH} levels (is it circular?)"
        ));
    }
    let e = |e: napi::Error| e.reason.clone();
    match v.get_type().map_err(e)? {
        ValueType::Undefined | ValueType::Null => Ok(Bson::Null),
        ValueType::Boolean => Ok(Bson::Boolean(bool::from_unknown(v).map_err(e)?)),
        ValueType::Number => Ok(number(f64::from_unknown(v).map_err(e)?)),
        ValueType::String => Ok(Bson::String(String::from_unknown(v).map_err(e)?)),
        ValueType::BigInt => {
            let (n, lossless) = BigInt::from_unknown(v).map_err(e)?.get_i64();
            if lossless {
                Ok(Bson::Int64(n))
            } else {
                Err("a BigInt outside the 64-bit range cannot be stored".into())
            }
        }
        ValueType::Object => object(env, v, depth),
        ValueType::Function | ValueType::Symbol | ValueType::External | ValueType::Unknown => {
            Err("functions and symbols cannot be stored".into())
        }
    }
}

fn object(env: &Env, v: Unknown, depth: usize) -> std::result::Result<Bson, String> {
    let e = |e: napi::Error| e.reason.clone();
    if v.is_date().map_err(e)? {
        // SAFETY: `is_date` just said this value is a Date.
        let d: JsDate = unsafe { v.cast() }.map_err(e)?;
        let ms = d.value_of().map_err(e)?;
        if !ms.is_finite() {
            return Err("an invalid Date cannot be stored".into());
        }
        return Ok(Bson::DateTime(DateTime::from_millis(ms as i64)));
    }
    if ObjectId::instance_of(env, &v).map_err(e)? {
        // SAFETY: `instance_of` just said this value wraps our ObjectId.
        let oid: ClassInstance<ObjectId> =
            unsafe { FromNapiValue::from_napi_value(env.raw(), v.raw()) }.map_err(e)?;
        return Ok(Bson::ObjectId(oid.oid));
    }
    if v.is_buffer().map_err(e)? || v.is_typedarray().map_err(e)? {
        // SAFETY: a Buffer or typed array, read as its bytes.
        let bytes: Uint8Array = unsafe { v.cast() }.map_err(e)?;
        return Ok(Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: bytes.to_vec(),
        }));
    }
    if v.is_array().map_err(e)? {
        let arr = Array::from_unknown(v).map_err(e)?;
        let mut out = Vec::with_capacity(arr.len() as usize);
        for i in 0..arr.len() {
            out.push(match arr.get::<Unknown>(i).map_err(e)? {
                Some(item) => convert(env, item, depth + 1)?,
                None => Bson::Null,
            });
        }
        return Ok(Bson::Array(out));
    }
    let obj = Object::from_unknown(v).map_err(e)?;
    // The `bson` package's ObjectId.
    if let Ok(t) = obj.get_named_property::<Unknown>("_bsontype") {
        if t.get_type().ok() == Some(ValueType::String)
            && String::from_unknown(t).is_ok_and(|s| s == "ObjectId")
        {
            let f: Function<(), String> = obj.get_named_property("toHexString").map_err(e)?;
            if let Ok(oid) = Oid::parse_str(f.apply(obj, ()).map_err(e)?) {
                return Ok(Bson::ObjectId(oid));
            }
        }
    }
    let mut doc = Document::new();
    for key in Object::keys(&obj).map_err(e)? {
        let item: Unknown = obj.get_named_property(&key).map_err(e)?;
        match item.get_type().map_err(e)? {
            // As JSON and the Node driver (ignoreUndefined aside) do.
            ValueType::Undefined | ValueType::Function => continue,
            _ => {
                doc.insert(key, convert(env, item, depth + 1)?);
            }
        }
    }
    Ok(extended(doc))
}

/// `{ $oid }`, `{ $date }`, `{ $numberLong }` … written by hand are the
/// values they name; anything else (an invalid one included) stays a document.
fn extended(doc: Document) -> Bson {
    if doc.len() > 2 || !doc.keys().next().is_some_and(|k| k.starts_with('$')) {
        return Bson::Document(doc);
    }
    match Bson::try_from(Bson::Document(doc.clone()).into_relaxed_extjson()) {
        Ok(Bson::Document(_)) | Err(_) => Bson::Document(doc),
        Ok(b) => b,
    }
}

/// A function's JSON result read as Extended JSON, node by node, so an
/// invalid `{ $oid: "zz" }` stays a plain object and does not spoil the rest.
pub fn from_json(v: Value) -> Bson {
    match v {
        Value::Array(items) => Bson::Array(items.into_iter().map(from_json).collect()),
        Value::Object(map) => {
            let doc: Document = map.into_iter().map(|(k, v)| (k, from_json(v))).collect();
            extended(doc)
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i)),
            None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Bson::String(s),
        Value::Bool(b) => Bson::Boolean(b),
        Value::Null => Bson::Null,
    }
}

/// A BSON value as JavaScript: ObjectId, Date and Buffer restored; numbers
/// (int64 and decimal128 included) as numbers; other BSON types in relaxed
/// Extended JSON, as a function receives them.
pub struct Js(pub Bson);

impl TypeName for Js {
    fn type_name() -> &'static str {
        "any"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for Js {
    // SAFETY (for callers): napi calls this with a live env on the JS thread.
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let e = Env::from_raw(env);
        match val.0 {
            Bson::Double(f) => f64::to_napi_value(env, f),
            Bson::Int32(i) => i32::to_napi_value(env, i),
            Bson::Int64(i) => f64::to_napi_value(env, i as f64),
            Bson::Decimal128(d) => {
                f64::to_napi_value(env, d.to_string().parse::<f64>().unwrap_or(f64::NAN))
            }
            Bson::String(s) => String::to_napi_value(env, s),
            Bson::Boolean(b) => bool::to_napi_value(env, b),
            Bson::Null | Bson::Undefined => Null::to_napi_value(env, Null),
            Bson::ObjectId(oid) => ObjectId::to_napi_value(env, ObjectId { oid }),
            Bson::DateTime(d) => Ok(e.create_date(d.timestamp_millis() as f64)?.raw()),
            Bson::Binary(b) => Buffer::to_napi_value(env, Buffer::from(b.bytes)),
            Bson::Array(items) => {
                let mut arr = e.create_array(items.len() as u32)?;
                for (i, v) in items.into_iter().enumerate() {
                    arr.set(i as u32, Js(v))?;
                }
                Ok(arr.raw())
            }
            Bson::Document(doc) => {
                let mut obj = Object::new(&e)?;
                for (k, v) in doc {
                    obj.set_named_property(&k, Js(v))?;
                }
                Ok(obj.raw())
            }
            other => Value::to_napi_value(env, other.into_relaxed_extjson()),
        }
    }
}
