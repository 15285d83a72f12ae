//! Argument checks at the edge: a value of the wrong type is an
//! `INVALID_ARGUMENT` error (napi's own conversion codes, `StringExpected`,
//! `InvalidArg`, never reach JavaScript). Numbers are range-checked by the
//! core (`runtime_core::error::whole_number`), never wrapped.

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
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

/// `got number`, `got object`, … for messages.
fn describe(env: sys::napi_env, v: sys::napi_value) -> String {
    let mut t = 0;
    // SAFETY: napi_typeof only reads the value's tag.
    if unsafe { sys::napi_typeof(env, v, &mut t) } != sys::Status::napi_ok {
        return "a value".into();
    }
    format!("got {:?}", ValueType::from(t)).to_lowercase()
}
