//! Checks made when a rule loads, before it ever runs: every function it calls (and every
//! function the `lib/` modules it imports call) must exist somewhere — in the script, in the
//! imported module, in the host API or in Rhai's standard library — and every import must name
//! a module of the pack's own `lib/` folder. Only names are checked, never argument types.

use std::collections::{BTreeMap, BTreeSet};

use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

/// Functions Rhai handles itself, outside any package.
const KEYWORDS: [&str; 12] = [
    "print",
    "debug",
    "type_of",
    "eval",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "this",
    "global",
];

/// Imports nested deeper than this are not followed (Rhai's module limit stops them anyway).
const MAX_IMPORT_DEPTH: usize = 8;

/// A problem found in a script, at a position of the script it names.
#[derive(Debug)]
pub(crate) struct LoadProblem {
    /// The `lib/` module the problem is in, or `None` for the rule file itself.
    pub(crate) module: Option<String>,
    /// Where, in that file.
    pub(crate) position: Position,
    /// In the rule file, the import that leads to `module` (its position).
    pub(crate) import_position: Position,
    /// What is wrong.
    pub(crate) message: String,
}

/// The names of every function registered on `engine` (host API and standard library), with
/// Rhai's keyword functions.
pub(crate) fn known_engine_functions(engine: &Engine) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = KEYWORDS.iter().map(|name| name.to_string()).collect();
    for signature in engine.gen_fn_signatures(true) {
        // `name(params) -> type`, or `module::name(...)` for a registered sub-module.
        let head = signature.split('(').next().unwrap_or_default().trim();
        names.insert(head.to_string());
    }
    names
}

/// What one script defines and uses.
#[derive(Default)]
struct Survey {
    /// Functions the script defines (closures included).
    functions: BTreeSet<String>,
    /// Variables and parameters: a function pointer held in one may be called by its name.
    variables: BTreeSet<String>,
    /// Keys of map literals and properties: a function pointer held in a map may be called as
    /// a method.
    properties: BTreeSet<String>,
    /// `import "path" as alias`: alias → (path, position of the import).
    imports: BTreeMap<String, (String, Position)>,
    /// Import paths that are not literal strings (their position).
    dynamic_imports: Vec<Position>,
    /// Calls: (namespace, name, is a method call, position).
    calls: Vec<(String, String, bool, Position)>,
}

fn survey(ast: &AST) -> Survey {
    let mut survey = Survey::default();
    for function in ast.iter_functions() {
        survey.functions.insert(function.name.to_string());
        for param in &function.params {
            survey.variables.insert(param.to_string());
        }
    }
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(var, ..))) => {
                survey.variables.insert(var.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(for_loop, ..))) => {
                survey.variables.insert(for_loop.0.name.to_string());
                if let Some(counter) = &for_loop.1 {
                    survey.variables.insert(counter.name.to_string());
                }
            }
            Some(ASTNode::Stmt(Stmt::Import(import, position))) => match &import.0 {
                // Reported at the path, as Rhai reports a refused import when it runs.
                Expr::StringConstant(module, at) => {
                    let at = if at.is_none() { *position } else { *at };
                    survey
                        .imports
                        .insert(import.1.name.to_string(), (module.to_string(), at));
                }
                _ => survey.dynamic_imports.push(*position),
            },
            Some(ASTNode::Expr(Expr::Map(map, _))) => {
                for (key, _) in &map.0 {
                    survey.properties.insert(key.name.to_string());
                }
            }
            Some(ASTNode::Expr(Expr::DynamicConstant(value, _))) => {
                constant_keys(value, &mut survey.properties, 0);
            }
            Some(ASTNode::Expr(Expr::Property(property, _))) => {
                survey.properties.insert(property.2.to_string());
            }
            // Operators are Rhai's own, whatever their operands.
            Some(ASTNode::Expr(Expr::FnCall(call, position)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, position)))
                if !call.is_operator_call() && is_plain_name(&call.name) =>
            {
                // A qualified call is reported at the start of its namespace.
                let at = call
                    .namespace
                    .path
                    .first()
                    .map_or(*position, |root| root.pos);
                survey
                    .calls
                    .push((call.namespace.to_string(), call.name.to_string(), false, at));
            }
            Some(ASTNode::Expr(Expr::MethodCall(call, position))) => {
                survey
                    .calls
                    .push((String::new(), call.name.to_string(), true, *position));
            }
            _ => {}
        }
        true
    });
    survey
}

/// The keys of the maps in a constant `value` (a literal map the compiler folded).
fn constant_keys(value: &rhai::Dynamic, keys: &mut BTreeSet<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    if let Some(map) = value.read_lock::<rhai::Map>() {
        for (key, item) in map.iter() {
            keys.insert(key.to_string());
            constant_keys(item, keys, depth + 1);
        }
    } else if let Some(items) = value.read_lock::<rhai::Array>() {
        for item in items.iter() {
            constant_keys(item, keys, depth + 1);
        }
    }
}

/// Checks `ast` (the rule file, whose AST source is `source`): the problems, first the
/// rule's own, then those of the `lib/` modules it imports, each once.
pub(crate) fn check_script(
    engine: &Engine,
    ast: &AST,
    known: &BTreeSet<String>,
) -> Vec<LoadProblem> {
    let mut problems = Vec::new();
    let mut visited = BTreeSet::new();
    let source = ast.source().map(str::to_string);
    check_one(
        engine,
        ast,
        source.as_deref(),
        None,
        Position::NONE,
        known,
        &mut visited,
        &mut problems,
        0,
    );
    problems
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    engine: &Engine,
    ast: &AST,
    source: Option<&str>,
    module: Option<&str>,
    import_position: Position,
    known: &BTreeSet<String>,
    visited: &mut BTreeSet<String>,
    problems: &mut Vec<LoadProblem>,
    depth: usize,
) {
    let survey = survey(ast);
    let problem = |position: Position, message: String| LoadProblem {
        module: module.map(str::to_string),
        position,
        import_position,
        message,
    };
    for position in &survey.dynamic_imports {
        problems.push(problem(
            *position,
            "an import must name a module of the pack's lib/ folder as a literal string: `import \"name\" as name;`".to_string(),
        ));
    }
    // The functions each imported module defines, by alias.
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (alias, (path, position)) in &survey.imports {
        let resolved = engine
            .module_resolver()
            .resolve_ast(engine, source, path, *position);
        match resolved {
            Some(Ok(lib)) => {
                modules.insert(
                    alias.clone(),
                    lib.iter_functions()
                        .map(|function| function.name.to_string())
                        .collect(),
                );
                if depth < MAX_IMPORT_DEPTH && visited.insert(path.clone()) {
                    let lib_source = lib.source().map(str::to_string);
                    check_one(
                        engine,
                        &lib,
                        lib_source.as_deref().or(source),
                        Some(path),
                        if module.is_some() {
                            import_position
                        } else {
                            *position
                        },
                        known,
                        visited,
                        problems,
                        depth + 1,
                    );
                }
            }
            Some(Err(error)) => {
                let mut message = error.to_string();
                if let rhai::EvalAltResult::ErrorInModule(_, inner, _) = &*error {
                    if let rhai::EvalAltResult::ErrorRuntime(text, _) = &**inner {
                        message = text.to_string();
                    }
                }
                problems.push(problem(*position, message));
            }
            None => {}
        }
    }
    for (namespace, name, is_method, position) in &survey.calls {
        if !namespace.is_empty() {
            let Some(functions) = modules.get(namespace) else {
                // A module registered on the engine, or one that could not be resolved (which
                // is reported above).
                if !known.contains(&format!("{namespace}::{name}"))
                    && !survey.imports.contains_key(namespace)
                {
                    problems.push(problem(
                        *position,
                        format!("`{namespace}::{name}`: no module `{namespace}` is imported"),
                    ));
                }
                continue;
            };
            if !functions.contains(name) {
                let hint = suggestion(name, functions.iter().map(String::as_str))
                    .map(|close| format!(" (did you mean `{namespace}::{close}`?)"))
                    .unwrap_or_default();
                problems.push(problem(
                    *position,
                    format!("unknown function `{namespace}::{name}`: module `{namespace}` defines no function `{name}`{hint}"),
                ));
            }
            continue;
        }
        if known.contains(name)
            || survey.functions.contains(name)
            || survey.variables.contains(name)
            || (*is_method && survey.properties.contains(name))
        {
            continue;
        }
        let candidates = known
            .iter()
            .chain(&survey.functions)
            .map(String::as_str)
            .filter(|candidate| is_plain_name(candidate) && !candidate.starts_with("anon$"));
        let hint = suggestion(name, candidates)
            .map(|close| format!(" (did you mean `{close}`?)"))
            .unwrap_or_default();
        let what = if *is_method { "method" } else { "function" };
        problems.push(problem(
            *position,
            format!("unknown {what} `{name}`: no function of that name exists in the host API, Rhai's standard library or this script{hint}"),
        ));
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a typo.
fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .map(|candidate| (levenshtein(&lower, &candidate.to_lowercase()), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Edit distance between `a` and `b`, in characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, RwLock};

    use super::*;
    use crate::pack::PackSource;
    use crate::sandbox::{sandboxed_engine, source_name, LibRegistry, Limits};

    /// The problems of each rule of `packs`, compiled as the rule set compiles them.
    fn problems(packs: Vec<PackSource>) -> Vec<(String, Vec<LoadProblem>)> {
        let libs = Arc::new(RwLock::new(LibRegistry::default()));
        let mut engine = sandboxed_engine(&Limits::default(), libs.clone());
        crate::host_api::register_host_api(&mut engine);
        let known = known_engine_functions(&engine);
        let mut found = Vec::new();
        for pack in packs {
            let name = pack.parse_manifest().expect("manifest").name;
            for lib in &pack.libs {
                let mut ast = engine.compile(&lib.text).expect("lib compiles");
                ast.set_source(source_name(&name, &lib.file_name));
                libs.write().expect("registry").insert(
                    &name,
                    lib.file_name.trim_end_matches(".rhai"),
                    ast,
                );
            }
            for rule in &pack.rules {
                let mut ast = engine.compile(&rule.text).expect("rule compiles");
                ast.set_source(source_name(&name, &rule.file_name));
                found.push((rule.origin.clone(), check_script(&engine, &ast, &known)));
            }
        }
        found
    }

    fn pack(rule: &str, libs: &[(&str, &str)]) -> PackSource {
        let file = |name: &str, text: &str| crate::pack::SourceFile {
            origin: format!("/packs/p/{name}"),
            file_name: name.to_string(),
            text: text.to_string(),
        };
        PackSource {
            origin: "/packs/p".to_string(),
            builtin: false,
            manifest: file(
                "pack.toml",
                "name = \"p\"\nversion = \"0.1.0\"\ndescription = \"d\"\nmin_hiveward = \"0.1.0\"\n",
            ),
            rules: vec![file("P-001.rhai", rule)],
            libs: libs
                .iter()
                .map(|(name, text)| file(&format!("{name}.rhai"), text))
                .collect(),
            tests: Vec::new(),
        }
    }

    fn messages(rule: &str, libs: &[(&str, &str)]) -> Vec<(Option<String>, String, usize, usize)> {
        problems(vec![pack(rule, libs)])
            .into_iter()
            .flat_map(|(_, problems)| problems)
            .map(|problem| {
                (
                    problem.module,
                    problem.message,
                    problem.position.line().unwrap_or(0),
                    problem.position.position().unwrap_or(0),
                )
            })
            .collect()
    }

    #[test]
    fn no_builtin_rule_calls_an_unknown_function_or_imports_outside_its_pack() {
        let found: Vec<_> = problems(PackSource::builtin())
            .into_iter()
            .filter(|(_, problems)| !problems.is_empty())
            .collect();
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn unknown_names_are_found_with_a_suggestion_and_no_rust_types() {
        let found = messages(
            "fn check(host) {\n    let v = host.settings(\"K\", \"V\");\n    contians([], 1);\n    []\n}",
            &[],
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].1.contains("did you mean `setting`"), "{found:?}");
        assert_eq!((found[0].2, found[0].3), (2, 18), "{found:?}");
        assert!(found[1].1.contains("did you mean `contains`"), "{found:?}");
        assert_eq!((found[1].2, found[1].3), (3, 5), "{found:?}");
        for (_, message, ..) in &found {
            assert!(!message.contains("ImmutableString") && !message.contains("&str"));
        }
    }

    #[test]
    fn methods_closures_pointers_and_lib_functions_are_known() {
        let lib = "fn names_in(list) { list.map(|name| name.to_lower()) }";
        let found = messages(
            r#"
import "guest" as guest;
fn double(x) { x * 2 }
fn check(host) {
    let list = guest::names_in(["A"]);
    list.push(4);
    let text = " a ".trim().sub_string(0, 1);
    let keys = #{ a: 1 }.keys();
    let f = Fn("double");
    let y = f.call(3) + call(f, 4) + f.curry(1).call();
    let add = |a, b| a + b;
    let obj = #{ value: 1, bump: |by| this.value + by };
    print(type_of(obj.bump(add.call(1, 2))));
    if list.contains(3) && "b" in text { return []; }
    host.setting("K", "V");
    []
}
"#,
            &[("guest", lib)],
        );
        assert!(found.is_empty(), "{found:?}");
        // A misspelt lib function, and an unknown call inside the lib.
        let found = messages(
            "import \"guest\" as guest;\nfn check(host) { guest::name_in([]); [] }",
            &[("guest", "fn names_in(list) {\n    list.mapp(|x| x)\n}")],
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0.as_deref(), Some("guest"), "{found:?}");
        assert!(found[0].1.contains("did you mean `map`"), "{found:?}");
        // The lib's problem is also placed at the rule's import of the lib.
        let (_, problems) = problems(vec![pack(
            "import \"guest\" as guest;\nfn check(host) { [] }",
            &[("guest", "fn names_in(list) {\n    list.mapp(|x| x)\n}")],
        )])
        .remove(0);
        assert_eq!(
            (
                problems[0].import_position.line(),
                problems[0].import_position.position()
            ),
            (Some(1), Some(8))
        );
        assert!(
            found[1].1.contains("did you mean `guest::names_in`"),
            "{found:?}"
        );
    }

    #[test]
    fn imports_outside_the_pack_lib_are_found() {
        for path in [
            "../other/lib/x",
            "/etc/passwd",
            "http://example.com/x",
            "missing",
        ] {
            let found = messages(
                &format!("import \"{path}\" as x;\nfn check(host) {{ [] }}"),
                &[("guest", "fn f() { 1 }"), ("names", "fn g() { 2 }")],
            );
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].1.contains(&format!("import \"{path}\"")),
                "{found:?}"
            );
            assert!(found[0].1.contains("\"guest\", \"names\""), "{found:?}");
            assert_eq!((found[0].2, found[0].3), (1, 8), "{found:?}");
        }
    }

    #[test]
    fn suggestions_are_close_names_only() {
        assert_eq!(levenshtein("settings", "setting"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        let names = ["setting", "value", "key_exists"];
        assert_eq!(suggestion("settings", names.into_iter()), Some("setting"));
        assert_eq!(suggestion("Value", names.into_iter()), Some("value"));
        assert_eq!(suggestion("completely_else", names.into_iter()), None);
    }
}
