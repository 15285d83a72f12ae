//! JavaScript values ⇄ MongoDB Extended JSON, the form in which the core's
//! Cloud takes arguments and gives results. ObjectIds (ours, the `bson`
//! package's, `{ $oid }`), Dates and Buffers survive the trip both ways.

use napi::bindgen_prelude::*;
use napi::{sys, JsDate, JsValue, ValueType};
use serde_json::{Map, Value};

use crate::objectid::{is_hex24, ObjectId};

/// Deepest nesting accepted; also how a circular value is caught.
const MAX_DEPTH: usize = 100;

/// Converts a JavaScript value to Extended JSON.
pub fn to_ejson(env: &Env, v: Unknown) -> std::result::Result<Value, String> {
    convert(env, v, 0)
}

fn convert(env: &Env, v: Unknown, depth: usize) -> std::result::Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "value nested deeper than {MAX_DEPTH} levels (is it circular?)"
        ));
    }
    let e = |e: napi::Error| e.reason.clone();
    match v.get_type().map_err(e)? {
        ValueType::Undefined | ValueType::Null => Ok(Value::Null),
        ValueType::Boolean => Ok(Value::Bool(bool::from_unknown(v).map_err(e)?)),
        ValueType::Number => {
            let n = f64::from_unknown(v).map_err(e)?;
            Ok(serde_json::Number::from_f64(n)
                .map(Value::Number)
                .unwrap_or(Value::Null))
        }
        ValueType::String => Ok(Value::String(String::from_unknown(v).map_err(e)?)),
        ValueType::BigInt => Err("BigInt values are not supported".into()),
        ValueType::Object => {
            if v.is_date().map_err(e)? {
                let d: JsDate = unsafe { v.cast() }.map_err(e)?;
                let ms = d.value_of().map_err(e)?;
                return Ok(
                    serde_json::json!({ "$date": { "$numberLong": format!("{}", ms as i64) } }),
                );
            }
            if ObjectId::instance_of(env, &v).map_err(e)? {
                let oid: ClassInstance<ObjectId> =
                    unsafe { FromNapiValue::from_napi_value(env.raw(), v.raw()) }.map_err(e)?;
                return Ok(serde_json::json!({ "$oid": oid.hex }));
            }
            if v.is_buffer().map_err(e)? || v.is_typedarray().map_err(e)? {
                let bytes: Uint8Array = unsafe { v.cast() }.map_err(e)?;
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD.encode(bytes.as_ref());
                return Ok(serde_json::json!({ "$binary": { "base64": b64, "subType": "00" } }));
            }
            if v.is_array().map_err(e)? {
                let arr: Array = unsafe { v.cast() }.map_err(e)?;
                let mut out = Vec::with_capacity(arr.len() as usize);
                for i in 0..arr.len() {
                    let item: Unknown = arr.get(i).map_err(e)?.unwrap_or(unsafe {
                        Unknown::from_raw_unchecked(
                            env.raw(),
                            Null::to_napi_value(env.raw(), Null).map_err(e)?,
                        )
                    });
                    out.push(convert(env, item, depth + 1)?);
                }
                return Ok(Value::Array(out));
            }
            let obj = Object::from_unknown(v).map_err(e)?;
            // The `bson` package's ObjectId.
            if let Ok(t) = obj.get_named_property::<Unknown>("_bsontype") {
                if t.get_type().ok() == Some(ValueType::String)
                    && String::from_unknown(t)
                        .map(|s| s == "ObjectId")
                        .unwrap_or(false)
                {
                    let f: Function<(), String> =
                        obj.get_named_property("toHexString").map_err(e)?;
                    let hex = f.apply(obj, ()).map_err(e)?;
                    if is_hex24(&hex) {
                        return Ok(serde_json::json!({ "$oid": hex.to_ascii_lowercase() }));
                    }
                }
            }
            let mut map = Map::new();
            for key in Object::keys(&obj).map_err(e)? {
                let item: Unknown = obj.get_named_property(&key).map_err(e)?;
                if item.get_type().map_err(e)? == ValueType::Undefined {
                    continue; // as JSON and the Node driver (ignoreUndefined aside) do
                }
                if item.get_type().map_err(e)? == ValueType::Function {
                    continue;
                }
                map.insert(key, convert(env, item, depth + 1)?);
            }
            Ok(Value::Object(map))
        }
        ValueType::Function | ValueType::Symbol | ValueType::External | ValueType::Unknown => {
            Err("functions and symbols cannot be stored".into())
        }
    }
}

/// Extended JSON as a JavaScript value, with ObjectId, Date and Buffer restored.
pub struct Ejson(pub Value);

impl TypeName for Ejson {
    fn type_name() -> &'static str {
        "any"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for Ejson {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let e = Env::from_raw(env);
        match val.0 {
            Value::Object(map) => {
                if map.len() == 1 {
                    if let Some(Value::String(hex)) = map.get("$oid") {
                        return ObjectId::to_napi_value(env, ObjectId::from_hex(hex));
                    }
                    if let Some(d) = map.get("$date") {
                        let ms = match d {
                            Value::String(s) => parse_iso_ms(s),
                            Value::Number(n) => n.as_f64(),
                            Value::Object(o) => o
                                .get("$numberLong")
                                .and_then(|x| x.as_str())
                                .and_then(|s| s.parse().ok()),
                            _ => None,
                        };
                        if let Some(ms) = ms {
                            return Ok(e.create_date(ms)?.raw());
                        }
                    }
                    if let Some(b) = map
                        .get("$binary")
                        .and_then(|b| b.get("base64"))
                        .and_then(Value::as_str)
                    {
                        use base64::Engine as _;
                        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b) {
                            return Buffer::to_napi_value(env, Buffer::from(bytes));
                        }
                    }
                    for k in [
                        "$numberLong",
                        "$numberDouble",
                        "$numberDecimal",
                        "$numberInt",
                    ] {
                        if let Some(n) = map
                            .get(k)
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse::<f64>().ok())
                        {
                            return f64::to_napi_value(env, n);
                        }
                    }
                }
                let mut obj = Object::new(&e)?;
                for (k, v) in map {
                    obj.set_named_property(&k, Ejson(v))?;
                }
                Ok(obj.raw())
            }
            Value::Array(items) => {
                let mut arr = e.create_array(items.len() as u32)?;
                for (i, v) in items.into_iter().enumerate() {
                    arr.set(i as u32, Ejson(v))?;
                }
                Ok(arr.raw())
            }
            other => Value::to_napi_value(env, other),
        }
    }
}

/// Milliseconds since the epoch of an RFC 3339 / ISO-8601 UTC timestamp.
fn parse_iso_ms(s: &str) -> Option<f64> {
    // YYYY-MM-DDTHH:MM:SS(.fff)?(Z|±HH:MM)
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut rest = &s[19..];
    let mut frac_ms = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest = &r[digits.len()..];
        if !digits.is_empty() {
            frac_ms = format!("0.{digits}").parse::<f64>().ok()? * 1000.0;
        }
    }
    let offset_min = match rest {
        "" | "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o.get(1..3)?.parse::<i64>().ok()? * 60 + o.get(4..6)?.parse::<i64>().ok()?)
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs as f64 * 1000.0 + frac_ms)
}

#[cfg(test)]
mod tests {
    use super::parse_iso_ms;

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_iso_ms("2024-02-29T12:34:56.789Z"),
            Some(1709210096789.0)
        );
        assert_eq!(
            parse_iso_ms("2024-02-29T13:34:56.789+01:00"),
            Some(1709210096789.0)
        );
        assert_eq!(parse_iso_ms("nonsense"), None);
    }
}
