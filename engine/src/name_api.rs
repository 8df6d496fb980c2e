//! Host-name helpers for rules: the forms in which SMB compares host names, done natively.
//!
//! The fleet rules reduce every name a host owns, lists or reached (computer names, DNS
//! domains, SPNs, mounted servers) to these forms, several times per host; written in Rhai,
//! that was about a third of the interpreter's work on a fleet. The functions keep exactly the
//! semantics of the Rhai helpers the built-in packs had (Unicode `trim` and `to_lower`, first
//! dot, character positions), so verdicts do not change.

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, NativeCallContext};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// A host name as SMB compares it: trimmed, lower case, without leading `\` and without
/// trailing dots. Anything that is not a string is read as its text (`()` is empty).
pub(crate) fn norm(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .trim_start_matches('\\')
        .trim_end_matches('.')
        .to_string()
}

/// Whether `name` is an address rather than a DNS or NetBIOS name: empty, holding `:` (IPv6),
/// or only digits and dots (IPv4).
pub(crate) fn is_address(name: &str) -> bool {
    name.is_empty() || name.contains(':') || name.chars().all(|c| c == '.' || c.is_ascii_digit())
}

/// The first DNS label of the normalised name ("FILES.corp.example" -> "files"); an address,
/// or a name without a dot past its first character, whole.
pub(crate) fn label(name: &str) -> String {
    let n = norm(name);
    match n.find('.') {
        Some(dot) if dot > 0 && !is_address(&n) => n[..dot].to_string(),
        _ => n,
    }
}

/// The DNS domain of the normalised name ("files.corp.example" -> "corp.example"), or "".
pub(crate) fn domain(name: &str) -> String {
    let n = norm(name);
    match n.find('.') {
        Some(dot) if dot > 0 && !is_address(&n) => n[dot + 1..].to_string(),
        _ => String::new(),
    }
}

/// The parent domains of `name` that still hold a dot, nearest first
/// ("a.b.corp.example" -> ["b.corp.example", "corp.example"]); none for an address. The name
/// is taken as given (normalise it first).
pub(crate) fn suffixes(name: &str) -> Vec<String> {
    if is_address(name) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut rest = name;
    while let Some(dot) = rest.find('.') {
        rest = &rest[dot + 1..];
        if rest.contains('.') {
            out.push(rest.to_string());
        }
    }
    out
}

/// A stable hash of the lower-cased name, below 16,777,213: what fleet rules bucket hosts by.
pub(crate) fn hash(name: &str) -> i64 {
    name.to_lowercase().chars().fold(0i64, |h, c| {
        (h * 131 + i64::from(u32::from(c))) % 16_777_213
    })
}

/// The text of a value as string interpolation gives it.
fn text_of(value: &Dynamic) -> String {
    match value.read_lock::<ImmutableString>() {
        Some(text) => text.to_string(),
        None => value.to_string(),
    }
}

/// Registers the helpers: `name_norm`, `name_is_address`, `name_label`, `name_domain`,
/// `name_suffixes`, `name_hash` and the array method `add_name`.
pub(crate) fn register_name_api(engine: &mut Engine) {
    engine
        .register_fn("name_norm", |value: Dynamic| norm(&text_of(&value)))
        .register_fn("name_is_address", |name: &str| is_address(name))
        .register_fn("name_label", |value: Dynamic| label(&text_of(&value)))
        .register_fn("name_domain", |value: Dynamic| domain(&text_of(&value)))
        .register_fn("name_suffixes", |name: &str| -> Array {
            suffixes(name).into_iter().map(Dynamic::from).collect()
        })
        .register_fn("name_hash", |name: &str| hash(name))
        .register_fn(
            "add_name",
            |context: NativeCallContext, list: &mut Array, value: Dynamic| -> RhaiResult<()> {
                let name = norm(&text_of(&value));
                if name.is_empty() {
                    return Ok(());
                }
                let present = list.iter().any(|item| {
                    item.read_lock::<ImmutableString>()
                        .is_some_and(|text| text.as_str() == name)
                });
                if present {
                    return Ok(());
                }
                // A native method that grows an array checks the sandbox's size limit itself,
                // as Rhai's own `push` does.
                let limit = context.engine().max_array_size();
                if limit > 0 && list.len() >= limit {
                    return Err(EvalAltResult::ErrorDataTooLarge(
                        "Size of array".to_string(),
                        context.call_position(),
                    )
                    .into());
                }
                list.push(Dynamic::from(name));
                Ok(())
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_as_smb_compares_them() {
        assert_eq!(norm("  \\\\FILES.Corp.Example.. "), "files.corp.example");
        assert_eq!(norm(""), "");
        assert_eq!(norm("ÄB"), "äb");
    }

    #[test]
    fn addresses_labels_and_domains() {
        assert!(is_address(""));
        assert!(is_address("10.0.0.1"));
        assert!(is_address("fe80::1"));
        assert!(!is_address("files"));
        assert_eq!(label("FILES.corp.example"), "files");
        assert_eq!(label("10.0.0.1"), "10.0.0.1");
        assert_eq!(label(".hidden"), ".hidden");
        assert_eq!(domain("files.corp.example."), "corp.example");
        assert_eq!(domain("files"), "");
        assert_eq!(domain("10.0.0.1"), "");
    }

    #[test]
    fn suffixes_keep_dotted_parents_only() {
        assert_eq!(
            suffixes("a.b.corp.example"),
            ["b.corp.example", "corp.example"]
        );
        assert!(suffixes("files.example").is_empty());
        assert!(suffixes("10.1.2.3").is_empty());
    }

    #[test]
    fn the_hash_matches_the_rhai_helper_it_replaces() {
        // h = (h * 131 + code point) % 16777213 over the lower-cased characters.
        let expected = "files"
            .chars()
            .fold(0i64, |h, c| (h * 131 + c as i64) % 16_777_213);
        assert_eq!(hash("FILES"), expected);
        assert!(hash(&"z".repeat(1000)) < 16_777_213);
    }

    #[test]
    fn add_name_adds_a_normalised_name_once() {
        let mut engine = Engine::new();
        register_name_api(&mut engine);
        let list: Array = engine
            .eval(r#"let l = []; l.add_name("FILES."); l.add_name("files"); l.add_name(" "); l.add_name(()); l"#)
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].clone().into_string().unwrap(), "files");
    }

    #[test]
    fn add_name_keeps_to_the_array_size_limit() {
        let mut engine = Engine::new();
        engine.set_max_array_size(3);
        register_name_api(&mut engine);
        let error = engine
            .eval::<Array>(r#"let l = []; for i in 0..10 { l.add_name(`h${i}`); } l"#)
            .unwrap_err();
        assert!(
            matches!(*error, EvalAltResult::ErrorDataTooLarge(..)),
            "{error}"
        );
    }
}
