//! Array membership for rules, done natively: `contains` (which also drives `in`) and
//! `index_of` compare strings, integers, booleans and `()` directly.
//!
//! Rhai's own versions call the `==` operator through the engine for every element, about
//! 0.3 µs each (measured with `scan --timings`); rules test membership in lists of names and
//! values many times per host. Elements of any other type (floats, characters, maps, arrays,
//! custom types, or two values of different types) are still compared by calling `==` exactly
//! as Rhai's versions do, so every result, and every error, is the same.

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, NativeCallContext, INT};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Registers the native `contains(array, value)` and `index_of(array, value)`; registered on
/// the engine, they are found before the standard package's.
pub(crate) fn register_array_api(engine: &mut Engine) {
    FuncRegistration::new("contains")
        .with_purity(true)
        .register_into_engine(
            engine,
            |call: NativeCallContext, array: &mut Array, value: Dynamic| -> RhaiResult<bool> {
                Ok(position(&call, array, &value)?.is_some())
            },
        );
    FuncRegistration::new("index_of")
        .with_purity(true)
        .register_into_engine(
            engine,
            |call: NativeCallContext, array: &mut Array, value: Dynamic| -> RhaiResult<INT> {
                Ok(match position(&call, array, &value)? {
                    Some(index) => INT::try_from(index).unwrap_or(INT::MAX),
                    None => -1,
                })
            },
        );
}

/// The index of the first element that equals `value`.
fn position(
    call: &NativeCallContext,
    array: &mut Array,
    value: &Dynamic,
) -> RhaiResult<Option<usize>> {
    for (index, item) in array.iter_mut().enumerate() {
        if equals(call, item, value)? {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// Whether `item == value`, as the engine's `==` tells.
fn equals(call: &NativeCallContext, item: &mut Dynamic, value: &Dynamic) -> RhaiResult<bool> {
    if let Some(equal) = plain_equals(item, value) {
        return Ok(equal);
    }
    // What Rhai's `contains` does: `==` must be defined between two values of one type;
    // between different types, an undefined `==` means "not equal".
    let outcome = call
        .call_native_fn_raw("==", true, &mut [item, &mut value.clone()])
        .or_else(|error| match *error {
            EvalAltResult::ErrorFunctionNotFound(ref signature, ..)
                if signature.starts_with("==") =>
            {
                if item.type_id() == value.type_id() {
                    Err(error)
                } else {
                    Ok(Dynamic::FALSE)
                }
            }
            _ => Err(error),
        })?;
    Ok(outcome.as_bool().unwrap_or(false))
}

/// `item == value` for two plain values of the same type whose `==` is the engine's built-in
/// one (strings, integers, booleans, `()`); `None` for anything else. Shared values (captured
/// by a closure) are left to the engine too.
fn plain_equals(item: &Dynamic, value: &Dynamic) -> Option<bool> {
    if item.is_shared() || value.is_shared() {
        return None;
    }
    if let (Some(a), Some(b)) = (
        item.read_lock::<rhai::ImmutableString>(),
        value.read_lock::<rhai::ImmutableString>(),
    ) {
        return Some(a.as_str() == b.as_str());
    }
    if let (Ok(a), Ok(b)) = (item.as_int(), value.as_int()) {
        return Some(a == b);
    }
    if let (Ok(a), Ok(b)) = (item.as_bool(), value.as_bool()) {
        return Some(a == b);
    }
    if item.is_unit() && value.is_unit() {
        return Some(true);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same script run by an engine with the native functions and by one without them.
    fn both(script: &str) -> (String, String) {
        let run = |native: bool| {
            let mut engine = Engine::new();
            if native {
                register_array_api(&mut engine);
            }
            match engine.eval::<Dynamic>(script) {
                Ok(value) => format!("{value:?}"),
                Err(error) => format!("error: {error}"),
            }
        };
        (run(true), run(false))
    }

    #[test]
    fn results_are_the_engines_for_every_kind_of_element() {
        let scripts = [
            r#"["a", "b", "FILES"].contains("FILES")"#,
            r#"["a", "b", "FILES"].contains("files")"#,
            r#""b" in ["a", "b"]"#,
            r#"[1, 2, 3].contains(2)"#,
            r#"[1, 2, 3].contains(2.0)"#,
            r#"[1.5, 2.5].contains(2.5)"#,
            r#"[1, "1"].index_of("1")"#,
            r#"['a', "b"].contains("a")"#,
            r#"["a"].contains('a')"#,
            r#"[true, false].index_of(false)"#,
            r#"[(), 1].index_of(())"#,
            r#"[#{ a: 1 }, [1, 2]].contains([1, 2])"#,
            r#"[#{ a: 1 }].contains(#{ a: 1 })"#,
            r#"[].contains(1)"#,
            r#"[1, 2].index_of(3)"#,
            r#"const LIST = ["x", "y"]; LIST.contains("y")"#,
            r#"let v = "y"; let f = || v; [f.call(), "y"].index_of("y")"#,
            r#"let list = ["x"]; let f = || list.contains("x"); f.call()"#,
            r#"[blob(2)].contains(blob(2))"#,
        ];
        for script in scripts {
            let (native, engine) = both(script);
            assert_eq!(native, engine, "{script}");
        }
    }

    #[test]
    fn plain_values_are_compared_without_calling_the_engine_and_others_through_it() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        // An engine whose `==` between strings and between floats counts its calls: Rhai's
        // `contains` calls it for every element; the native one only for the floats.
        let counting = |native: bool| {
            let calls = Arc::new(AtomicUsize::new(0));
            let mut engine = Engine::new();
            let seen = calls.clone();
            engine.register_fn("==", move |a: &str, b: &str| {
                seen.fetch_add(1, Ordering::Relaxed);
                a == b
            });
            let seen = calls.clone();
            engine.register_fn("==", move |a: rhai::FLOAT, b: rhai::FLOAT| {
                seen.fetch_add(1, Ordering::Relaxed);
                a == b
            });
            if native {
                register_array_api(&mut engine);
            }
            let found: bool = engine
                .eval(r#"["a", "b", "c"].contains("c") && [1.0, 2.0].contains(2.0)"#)
                .unwrap();
            assert!(found);
            calls.load(Ordering::Relaxed)
        };
        assert_eq!(counting(false), 5);
        assert_eq!(counting(true), 2);
    }
}
