//! Argument checks at the edge: a value of the wrong type is an
//! `INVALID_ARGUMENT` error (napi's own conversion codes, `StringExpected`,
//! `InvalidArg`, never reach JavaScript), and numbers are range-checked
//! integers, never wrapped into another value.

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Env, ValueType};
use runtime_core::Error as CoreError;

use crate::error::js_error;

/// An argument converted by napi, with a conversion failure turned into our
/// `INVALID_ARGUMENT` (the exports that take it declare their TypeScript
/// types with `ts_args_type`).
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
                let reason = e
                    .reason
                    .replace("Failed to convert napi value", "cannot convert")
                    .replace("Failed to convert JavaScript value", "cannot convert");
                Err(js_error(
                    &env,
                    &CoreError::invalid(format!("invalid argument ({got}): {}", reason.trim())),
                ))
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

/// `number`, `string`, … of a JavaScript value, for messages.
fn describe(env: sys::napi_env, v: sys::napi_value) -> String {
    let mut t = 0;
    // SAFETY: napi_typeof only reads the value's tag.
    let ok = unsafe { sys::napi_typeof(env, v, &mut t) } == sys::Status::napi_ok;
    if !ok {
        return "a value".into();
    }
    let name = match t {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "boolean",
        sys::ValueType::napi_number => "number",
        sys::ValueType::napi_string => "string",
        sys::ValueType::napi_symbol => "symbol",
        sys::ValueType::napi_object => "object",
        sys::ValueType::napi_function => "function",
        sys::ValueType::napi_bigint => "bigint",
        _ => "a value",
    };
    format!("got {name}")
}

/// A whole number in `min..=max`, or `INVALID_ARGUMENT` naming `what`:
/// -1, 0.5, NaN, Infinity and 2**32+k are refused, not wrapped.
pub fn int(what: &str, v: f64, min: u64, max: u64) -> Result<u64, CoreError> {
    if v.is_finite() && v.fract() == 0.0 && v >= min as f64 && v <= max as f64 {
        Ok(v as u64)
    } else {
        Err(CoreError::invalid(format!(
            "{what} must be an integer from {min} to {max}, got {}",
            js_number(v)
        )))
    }
}

/// A number as JavaScript prints it (`Infinity`, not `inf`).
fn js_number(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::int;

    #[test]
    fn integers_only_in_range() {
        assert_eq!(int("x", 5.0, 1, 10).unwrap(), 5);
        for bad in [-1.0, 0.0, 0.5, f64::NAN, f64::INFINITY, 4294967396.0] {
            let e = int("options.timeoutMs", bad, 1, 1000).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert!(e
                .to_string()
                .starts_with("options.timeoutMs must be an integer from 1 to 1000"));
        }
    }
}
