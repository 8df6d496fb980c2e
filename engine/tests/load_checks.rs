//! Checks made when a pack loads (issue 16): a call to a function that exists nowhere, and an
//! import of a module outside the pack's own `lib/` folder, are load errors at their place,
//! with the closest known name suggested and no Rust types in the message.

use hiveward_engine::{Limits, PackSource, RuleLoadError, RuleSet};

mod common;
use common::{manifest_text, pack_source};

/// A rule of pack `p` whose body (after the `RULE` map, which is line 1) is `body`.
fn rule(body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"P-001\", pack: \"p\", title: \"t\", description: \"d\", severity: \"high\", fix: \"f\" }};\n{body}\n"
    )
}

fn load(body: &str, libs: &[(&str, &str)]) -> Result<RuleSet, Vec<RuleLoadError>> {
    let text = rule(body);
    RuleSet::load(
        vec![pack_source(
            "p",
            &manifest_text("p", "0.1.0"),
            &[("P-001", &text)],
            libs,
        )],
        Limits::default(),
    )
}

/// The one load error of `body`, as text, with its line and column.
fn only_error(body: &str, libs: &[(&str, &str)]) -> (String, usize, usize) {
    let errors = match load(body, libs) {
        Ok(_) => panic!("the rule must not load:\n{body}"),
        Err(errors) => errors,
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (line, column) = match &errors[0] {
        RuleLoadError::Invalid { line, column, .. } => (*line, *column),
        other => panic!("a located error, not {other:?}"),
    };
    let message = errors[0].to_string();
    for rust_type in ["ImmutableString", "&str", "String", "HostHandle", "Dynamic"] {
        assert!(
            !message.contains(rust_type),
            "no Rust types in the message: {message}"
        );
    }
    (message, line, column)
}

fn loads(body: &str, libs: &[(&str, &str)]) {
    if let Err(errors) = load(body, libs) {
        panic!(
            "the rule must load:\n{body}\n{}",
            errors
                .iter()
                .map(|error| error.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn an_unknown_host_method_is_a_load_error_with_a_suggestion() {
    let (message, line, column) = only_error(
        "fn check(host) {\n    let value = host.settings(\"HKLM\\\\X\", \"Y\");\n    []\n}",
        &[],
    );
    assert!(message.contains("`settings`"), "{message}");
    assert!(message.contains("did you mean `setting`"), "{message}");
    assert_eq!(line, 3, "{message}");
    assert_eq!(column, 22, "{message}");
    assert!(message.contains(":3:22:"), "{message}");
}

#[test]
fn an_unknown_plain_function_is_a_load_error() {
    let (message, line, column) = only_error(
        "fn check(host) {\n    let names = [];\n    if contians(names, \"x\") { return []; }\n    []\n}",
        &[],
    );
    assert!(message.contains("unknown function `contians`"), "{message}");
    assert!(message.contains("did you mean `contains`"), "{message}");
    assert_eq!((line, column), (4, 8), "{message}");
    // A name far from every known one gets no suggestion.
    let (message, ..) = only_error("fn check(host) { zzqxwv_nothing_like_it(); [] }", &[]);
    assert!(
        message.contains("unknown function `zzqxwv_nothing_like_it`"),
        "{message}"
    );
    assert!(!message.contains("did you mean"), "{message}");
}

#[test]
fn lib_functions_are_resolved_through_their_module() {
    let lib = "fn names_in(list) { list.map(|name| name.to_lower()) }\nfn helper() { 1 }";
    loads(
        "import \"guest\" as guest;\nfn check(host) { let n = guest::names_in([\"A\"]); guest::helper(); [] }",
        &[("guest", lib)],
    );
    let (message, line, column) = only_error(
        "import \"guest\" as guest;\nfn check(host) { guest::name_in([]); [] }",
        &[("guest", lib)],
    );
    assert!(message.contains("`guest::name_in`"), "{message}");
    assert!(
        message.contains("did you mean `guest::names_in`"),
        "{message}"
    );
    assert_eq!((line, column), (3, 18), "{message}");
}

#[test]
fn an_unknown_call_inside_an_imported_lib_is_reported() {
    let (message, line, _) = only_error(
        "import \"guest\" as guest;\nfn check(host) { guest::names_in([]); [] }",
        &[("guest", "fn names_in(list) {\n    list.mapp(|x| x)\n}")],
    );
    assert!(message.contains("lib/guest.rhai"), "{message}");
    assert!(message.contains("line 2, column 10"), "{message}");
    assert!(message.contains("did you mean `map`"), "{message}");
    // Reported at the import of the rule.
    assert_eq!(line, 2, "{message}");
}

#[test]
fn methods_of_strings_arrays_maps_and_function_pointers_are_known() {
    loads(
        r#"
fn double(x) { x * 2 }
fn check(host) {
    let list = [3, 1, 2];
    list.push(4);
    list.sort();
    let text = "  A b ";
    text.trim();
    let lower = text.to_lower();
    let part = lower.sub_string(0, 1);
    let map = #{ a: 1, b: 2 };
    let keys = map.keys();
    let n = len(list) + list.len() + keys.len();
    let doubled = list.map(|x| x * 2).filter(|x| x > 2);
    let f = Fn("double");
    let g = f.curry(2);
    let y = f.call(3) + call(f, 4) + g.call();
    let add = |a, b| a + b;
    let z = add.call(1, 2);
    let obj = #{ value: 1, bump: |by| this.value + by };
    let w = obj.bump(2);
    print(type_of(w));
    debug(part);
    if list.contains(3) && "b" in text { return []; }
    let name = host.name;
    let v = host.setting("HKLM\\SYSTEM\\X", "Y");
    []
}
"#,
        &[],
    );
}

#[test]
fn imports_outside_the_pack_are_refused_at_load_time() {
    for path in [
        "../other/lib/x",
        "/etc/passwd",
        "http://example.com/x",
        "missing",
    ] {
        let (message, line, column) = only_error(
            &format!("import \"{path}\" as x;\nfn check(host) {{ [] }}"),
            &[("guest", "fn f() { 1 }"), ("names", "fn g() { 2 }")],
        );
        assert!(message.contains(&format!("import \"{path}\"")), "{message}");
        assert!(
            message.contains("\"guest\", \"names\""),
            "the pack's lib modules are named: {message}"
        );
        assert_eq!((line, column), (2, 8), "{message}");
    }
}

#[test]
fn importing_a_lib_that_did_not_compile_says_so_beside_its_own_error() {
    let errors = match load(
        "import \"kb\" as kb;\nfn check(host) { [] }",
        &[("kb", "fn f() { for package in [] { } }")],
    ) {
        Ok(_) => panic!("a lib with a syntax error must not load"),
        Err(errors) => errors,
    };
    let messages: Vec<String> = errors.iter().map(|error| error.to_string()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("lib/kb.rhai")
            && messages[0].contains("'package' is a reserved keyword"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("import \"kb\": lib/kb.rhai of pack `p` did not compile"),
        "{messages:?}"
    );
    assert!(!messages[1].contains("has no lib/kb.rhai"), "{messages:?}");
}

#[test]
fn every_builtin_pack_still_loads() {
    let rules = match RuleSet::load(PackSource::builtin(), Limits::default()) {
        Ok(rules) => rules,
        Err(errors) => panic!(
            "{}",
            errors
                .iter()
                .map(|error| error.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    assert!(rules.rules().len() > 40, "{}", rules.rules().len());
}
