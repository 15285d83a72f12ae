//! Argument checks at the edge: a value of the wrong type is an
//! `INVALID_ARGUMENT` error (napi's own conversion codes, `StringExpected`,
//! `InvalidArg`, never reach JavaScript). Numbers are range-checked by the
//! core (`runtime_core::error::whole_number`), never wrapped.

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Env, ValueType};
use runtime_core::Error as CoreError;

use crate::error::js_error;

/// An argument converted by napi, with a conversion failure turned into our
/// `INVALID_ARGUMENT`.
pub struct Arg<T>(pub T);

impl<T: FromNapiValue + ValidateNapiValue> FromNapiValue for Arg<T> {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        // The type check first: some conversions (objects from a number, a
        // Function from anything) would otherwise succeed on the wrong type.
        // SAFETY: forwards napi's own env and value to napi's own checks.
        let checked =
            unsafe { T::validate(env, v) }.and_then(|_| unsafe { T::from_napi_value(env, v) });
        match checked {
            Ok(t) => Ok(Arg(t)),
            Err(e) => {
                let env = Env::from_raw(env);
                let got = describe(env.raw(), v);
                let mut reason = js_reason(&got, &e.reason, |fields| {
                    // SAFETY: napi's own env and the argument it gave us.
                    unsafe { field_type(env.raw(), v, fields) }
                });
                // An element of a list argument (`compressLogs([1])`).
                if T::type_name().starts_with("Array") && reason.ends_with("expected a string") {
                    let v = converted_value(e.reason.trim()).unwrap_or_else(|| "value".into());
                    reason =
                        format!("invalid argument: expected an array of strings, got a {v} in it");
                }
                Err(js_error(&env, &CoreError::invalid(reason)))
            }
        }
    }
}

impl<T: TypeName> TypeName for Arg<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ValidateNapiValue> ValidateNapiValue for Arg<T> {}

/// `got string`, … for the value at `fields` inside the argument `v` (an
/// options object), when napi's message does not say what it got (a boolean
/// or an array option). `None` when the path cannot be read; a getter that
/// throws is cleared, so no exception is left pending.
unsafe fn field_type(env: sys::napi_env, v: sys::napi_value, fields: &[&str]) -> Option<String> {
    let mut cur = v;
    for field in fields {
        // SAFETY: napi's own env and a value it gave us.
        if unsafe { type_word(env, cur) }.as_deref() != Some("object") {
            return None;
        }
        let name = std::ffi::CString::new(*field).ok()?;
        let mut next = std::ptr::null_mut();
        // SAFETY: reads one named property of an object napi gave us.
        if unsafe { sys::napi_get_named_property(env, cur, name.as_ptr(), &mut next) }
            != sys::Status::napi_ok
        {
            let mut pending = std::ptr::null_mut();
            // SAFETY: clears what a throwing getter left, if anything.
            unsafe { sys::napi_get_and_clear_last_exception(env, &mut pending) };
            return None;
        }
        cur = next;
    }
    // SAFETY: napi's own env and a value it gave us.
    unsafe { type_word(env, cur) }.map(|t| format!("got {t}"))
}

/// `string`, `number`, `null`, `array`, `object`, …: the value's type as
/// JavaScript users name it (an array is not an "object" here). `None` when
/// napi cannot read it.
unsafe fn type_word(env: sys::napi_env, v: sys::napi_value) -> Option<String> {
    let mut t = 0;
    let mut is_array = false;
    // SAFETY: napi_typeof and napi_is_array only read the value's tag.
    let ok = unsafe {
        sys::napi_typeof(env, v, &mut t) == sys::Status::napi_ok
            && sys::napi_is_array(env, v, &mut is_array) == sys::Status::napi_ok
    };
    ok.then(|| {
        if is_array {
            "array".to_string()
        } else {
            format!("{:?}", ValueType::from(t)).to_lowercase()
        }
    })
}

/// `got number`, `got object`, … for messages.
fn describe(env: sys::napi_env, v: sys::napi_value) -> String {
    let mut t = 0;
    // SAFETY: napi_typeof only reads the value's tag.
    if unsafe { sys::napi_typeof(env, v, &mut t) } != sys::Status::napi_ok {
        return "a value".into();
    }
    format!("got {:?}", ValueType::from(t)).to_lowercase()
}

/// napi's conversion messages (`Expect value to be String, but received
/// Number`, `… into rust type \`f64\` on ExecuteOptions.timeoutMs`,
/// `Missing field \`code\``) in JavaScript's terms: which option, what it
/// must be, what it got. `got`: `got number`, for the argument itself.
pub(crate) fn js_reason(
    got: &str,
    reason: &str,
    field_got: impl Fn(&[&str]) -> Option<String>,
) -> String {
    let reason = reason.trim();
    // `… on S3Options.endpoint on CloudOptions.s3`: napi appends one
    // `on Struct.field` per level, innermost first. Taken from the end, and
    // only while they look like that (the value's own text may say " on ").
    let mut base = reason;
    let mut path: Vec<String> = Vec::new();
    // The same fields as napi names them, outermost first.
    let mut fields: Vec<&str> = Vec::new();
    while let Some(i) = base.rfind(" on ") {
        let Some((owner, field)) = base[i + 4..].split_once('.') else {
            break;
        };
        let is_struct = owner.starts_with(|c: char| c.is_ascii_uppercase())
            && owner.chars().all(|c| c.is_ascii_alphanumeric());
        let is_field = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if !(is_struct && is_field) {
            break;
        }
        path.push(if path.is_empty() {
            format!("{}.{field}", js_owner(owner))
        } else {
            field.to_string()
        });
        fields.push(field);
        base = &base[..i];
    }
    if let Some(field) = base
        .strip_prefix("Missing field `")
        .and_then(|f| f.strip_suffix('`'))
    {
        if path.is_empty() {
            path.push("options".into());
        }
        path.push(field.into());
        return format!("invalid argument: {} is required", path.join("."));
    }
    if let Some(rest) = base.strip_prefix("Expect value to be ") {
        if let Some((want, _)) = rest.split_once(", but received ") {
            return format!("invalid argument ({got}): expected {}", js_type(want));
        }
    }
    let want = if let Some(t) = base
        .split_once("into rust type `")
        .and_then(|(_, t)| t.strip_suffix('`'))
    {
        Some(js_type(t))
    } else if base.starts_with("Failed to get Array length") || base == "Expected an array" {
        Some("an array".to_string())
    } else {
        base.strip_prefix("must be ").map(str::to_string)
    };
    match (want, path.is_empty()) {
        (Some(want), false) => {
            let path = path.join(".");
            let value = converted_value(base);
            // A map or list whose element failed: say what it must hold.
            match (element_of(&path), want.as_str(), value) {
                (Some(whole), "a string", Some(v)) => {
                    format!("invalid argument: {path} must be {whole}, got a {v} in it")
                }
                (_, _, Some(v)) => format!("invalid argument: {path} must be {want}, got {v}"),
                (_, _, None) => match field_got(&fields) {
                    Some(got) => format!("invalid argument: {path} must be {want}, {got}"),
                    None => format!("invalid argument: {path} must be {want}"),
                },
            }
        }
        (Some(want), true) => format!("invalid argument ({got}): expected {want}"),
        (None, _) => format!("invalid argument ({got}): {reason}"),
    }
}

/// The JavaScript name of an options object napi names by its Rust type.
fn js_owner(rust: &str) -> &str {
    match rust {
        "S3Options" => "options.s3",
        _ => "options",
    }
}

/// The collections among the options, by what their elements must be.
fn element_of(path: &str) -> Option<&'static str> {
    match path {
        "options.env" => Some("an object of strings"),
        "options.buckets" => Some("an array of strings"),
        _ => None,
    }
}

/// `String` → `a string`, `Option<f64>` → `a number or undefined`, ….
fn js_type(rust: &str) -> String {
    if let Some(inner) = rust
        .strip_prefix("Option<")
        .and_then(|t| t.strip_suffix('>'))
    {
        return format!("{} or undefined", js_type(inner));
    }
    match rust {
        "String" => "a string",
        "f64" | "f32" | "u32" | "i32" | "i64" | "u64" | "Number" => "a number",
        "bool" | "Boolean" => "a boolean",
        "Function" => "a function",
        "Buffer" => "a Buffer",
        t if t.starts_with("Vec<") || t == "Array" => "an array",
        _ => "an object",
    }
    .to_string()
}

/// The type of the value a failed conversion names: `` `Number 5 ` `` or
/// `String` → `number`, `string`.
fn converted_value(base: &str) -> Option<String> {
    let v = base
        .strip_prefix("Failed to convert JavaScript value ")
        .or_else(|| base.strip_prefix("Failed to convert napi value "))?
        .trim_start_matches('`');
    let word = v.split([' ', '`']).next()?;
    (!word.is_empty() && word != "into").then(|| word.to_lowercase())
}

/// A nested options object (`createCloud({ s3, env })`): napi converts any value
/// to a struct or a map, so `s3: 'x'` would pass as `{}`. Only an object
/// (not null, not an array) converts.
pub struct Nested<T>(pub T);

impl<T: FromNapiValue> FromNapiValue for Nested<T> {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        // What it got is added where the message is made (`js_reason`,
        // which reads the field's type), as for every other option.
        // SAFETY: napi's own env and value.
        if unsafe { type_word(env, v) }.as_deref() != Some("object") {
            return Err(napi::Error::new(
                napi::Status::InvalidArg,
                "must be an object",
            ));
        }
        // SAFETY: forwards napi's own env and value.
        unsafe { T::from_napi_value(env, v) }.map(Nested)
    }
}

impl<T: TypeName> TypeName for Nested<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<T: ValidateNapiValue> ValidateNapiValue for Nested<T> {}

impl<T: ToNapiValue> ToNapiValue for Nested<T> {
    unsafe fn to_napi_value(env: sys::napi_env, v: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: forwards to T's own conversion.
        unsafe { T::to_napi_value(env, v.0) }
    }
}
