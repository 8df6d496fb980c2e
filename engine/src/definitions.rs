//! Rhai definition files (`.d.rhai`) for the Rhai language server: Rhai's standard library as
//! Rhai describes it, and `hiveward.d.rhai`, the host API of the engine rules run in, each
//! function documented from the host API tables of `docs/writing-rules.md` (the one place the
//! host API is described).

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use rhai::Engine;

use crate::host_api::register_host_api;
use crate::sandbox::{sandboxed_engine, LibRegistry, Limits};

/// The guide whose tables document the host API.
const WRITING_RULES: &str = include_str!("../../docs/writing-rules.md");

/// The file that holds the host API.
pub const HOST_API_DEFINITIONS: &str = "hiveward.d.rhai";

/// One definition file: its name and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionFile {
    /// The file name, such as `hiveward.d.rhai`.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// What the variable of each type is called in the guide's calls (`host.setting(...)`).
const RECEIVERS: &[(&str, &str)] = &[
    ("Host", "host"),
    ("Fleet", "fleet"),
    ("FleetSelection", "selection"),
    ("Event", "event"),
];

/// Types whose members the guide documents inside the row of the call that returns them: the
/// fields of an event are listed where `host.events` is.
const INTRODUCED_BY: &[(&str, &str)] = &[("event", "host.events")];

/// The engine rules run in, host API and all.
fn rules_engine() -> Engine {
    let libs = Arc::new(RwLock::new(LibRegistry::default()));
    let mut engine = sandboxed_engine(&Limits::default(), libs);
    register_host_api(&mut engine);
    engine
}

/// The definition files for the engine rules run in: Rhai's standard library
/// (`__builtin__.d.rhai`, `__builtin-operators__.d.rhai`, `__static__.d.rhai`, as Rhai writes
/// them) and [`HOST_API_DEFINITIONS`]. The text is the same on every run.
pub fn rule_definitions() -> Vec<DefinitionFile> {
    let standard = Engine::new();
    let mut files: Vec<DefinitionFile> = standard
        .definitions()
        .iter_files()
        .map(|(name, text)| DefinitionFile { name, text })
        .collect();
    files.push(DefinitionFile {
        name: HOST_API_DEFINITIONS.to_string(),
        text: host_api_text(&standard),
    });
    files
}

/// The names of the functions and properties the rules engine has beyond Rhai's standard
/// library (property getters as `get name`), sorted: what [`HOST_API_DEFINITIONS`] describes.
pub fn host_api_names() -> Vec<String> {
    let standard = Engine::new();
    host_api_items(&standard)
        .into_iter()
        .map(|item| item.display_name())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The items of the rules engine that the standard library does not define, each with its
/// documentation (empty when the guide has none).
fn host_api_items(standard: &Engine) -> Vec<Item> {
    let known: BTreeSet<String> = items(&standard.definitions().static_module())
        .into_iter()
        .map(|item| item.key())
        .collect();
    let engine = rules_engine();
    let own = engine
        .definitions()
        .include_standard_packages(false)
        .static_module();
    let docs = GuideDocs::read(WRITING_RULES);
    let returns = fallible_returns(&engine);
    items(&own)
        .into_iter()
        // The sandbox replaces a few standard functions (sleep, pad, ...) with the same
        // signature: the standard library's definition describes them.
        .filter(|item| !known.contains(&item.key()))
        // Indexers (`selection[i]`) have no definition syntax; Rhai's own definition files
        // leave the array's out too. The guide documents them beside `get`.
        .filter(|item| !item.name.starts_with("index$"))
        .map(|mut item| {
            if let Some(inner) = returns.get(&item.return_key()) {
                item.returns = inner.clone();
            }
            docs.document(&mut item);
            item
        })
        .collect()
}

/// What the functions that may fail return when they succeed, by [`Item::return_key`]: Rhai's
/// definitions write `Result<T, Box<EvalAltResult>>` as its last path segment.
fn fallible_returns(engine: &Engine) -> std::collections::BTreeMap<String, String> {
    let mut returns = std::collections::BTreeMap::new();
    for signature in engine.gen_fn_signatures(false) {
        let Some((call, result)) = signature.rsplit_once(") -> ") else {
            continue;
        };
        let Some(inner) = result
            .strip_prefix("core::result::Result<")
            .and_then(|rest| rest.rsplit_once(",alloc::boxed::Box<"))
            .map(|(inner, _)| inner)
        else {
            continue;
        };
        let Some((name, params)) = call.split_once('(') else {
            continue;
        };
        let params: Vec<&str> = if params.trim().is_empty() {
            Vec::new()
        } else {
            split_params(params)
        };
        let first = params
            .first()
            .and_then(|param| param.split_once(':'))
            .map(|(_, ty)| ty.trim().trim_start_matches("&mut ").trim())
            .unwrap_or("");
        let name = name.replacen("get$", "get ", 1).replacen("set$", "set ", 1);
        returns.insert(
            format!("{name}/{}/{}", params.len(), simple_type(first)),
            simple_type(inner),
        );
    }
    returns
}

/// A Rust type name as the definition files write it.
fn simple_type(rust: &str) -> String {
    let rust = rust.trim();
    if rust.ends_with("Dynamic") {
        "?".to_string()
    } else if rust.starts_with("alloc::vec::Vec<") {
        "array".to_string()
    } else if rust.starts_with("alloc::collections::btree::map::BTreeMap<") {
        "map".to_string()
    } else if rust.ends_with("ImmutableString") {
        "string".to_string()
    } else {
        rust.rsplit("::").next().unwrap_or(rust).to_string()
    }
}

fn host_api_text(standard: &Engine) -> String {
    let mut text = String::from(
        "module static;\n\n// The hiveward host API: what rules call beyond Rhai's standard library.\n// Written by `hiveward rules definitions`; the documentation comes from docs/writing-rules.md.\n",
    );
    for item in host_api_items(standard) {
        text.push('\n');
        for line in &item.doc {
            text.push_str("/// ");
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&item.definition());
        text.push('\n');
    }
    text
}

/// One `fn` of a definition file.
#[derive(Clone, Debug)]
struct Item {
    /// `get ` for a property getter, `set ` for a setter, or empty.
    accessor: &'static str,
    name: String,
    /// Parameter names and types.
    params: Vec<(String, String)>,
    returns: String,
    doc: Vec<String>,
}

impl Item {
    /// Name and parameter types: what tells overloads apart.
    fn key(&self) -> String {
        let types: Vec<&str> = self.params.iter().map(|(_, ty)| ty.as_str()).collect();
        format!("{}{}({})", self.accessor, self.name, types.join(", "))
    }

    /// Name, arity and first parameter type: what finds the item in Rhai's signatures.
    fn return_key(&self) -> String {
        let first = self.params.first().map(|(_, ty)| ty.as_str()).unwrap_or("");
        format!("{}/{}/{}", self.display_name(), self.params.len(), first)
    }

    fn display_name(&self) -> String {
        format!("{}{}", self.accessor, self.name)
    }

    /// The guide's name of the receiver (`host`), when the first parameter is a host API type.
    fn receiver(&self) -> Option<&'static str> {
        let first = &self.params.first()?.1;
        RECEIVERS
            .iter()
            .find(|(ty, _)| ty == first)
            .map(|(_, name)| *name)
    }

    fn definition(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, ty)| format!("{name}: {ty}"))
            .collect();
        format!(
            "fn {}{}({}) -> {};",
            self.accessor,
            self.name,
            params.join(", "),
            self.returns
        )
    }
}

/// The `fn` items of a definition file's text (comments and constants are skipped).
fn items(text: &str) -> Vec<Item> {
    text.lines().filter_map(parse_item).collect()
}

fn parse_item(line: &str) -> Option<Item> {
    let rest = line.trim().strip_prefix("fn ")?;
    let (accessor, rest) = match (rest.strip_prefix("get "), rest.strip_prefix("set ")) {
        (Some(rest), _) => ("get ", rest),
        (_, Some(rest)) => ("set ", rest),
        _ => ("", rest),
    };
    let open = rest.find('(')?;
    let close = rest.rfind(") -> ")?;
    let name = rest[..open].trim().to_string();
    let inner = &rest[open + 1..close];
    let params = if inner.trim().is_empty() {
        Vec::new()
    } else {
        split_params(inner)
            .into_iter()
            .map(|param| match param.split_once(':') {
                Some((name, ty)) => (name.trim().to_string(), ty.trim().to_string()),
                None => ("_".to_string(), param.trim().to_string()),
            })
            .collect()
    };
    let returns = rest[close + 5..].trim().trim_end_matches(';').to_string();
    Some(Item {
        accessor,
        name,
        params,
        returns,
        doc: Vec::new(),
    })
}

/// Splits at the commas outside `<...>`.
fn split_params(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, character) in text.char_indices() {
        match character {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Splits `text` at each `separator` outside brackets, braces, parentheses and quotes.
fn split_top_level<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0usize, false, 0);
    for (at, character) in text.char_indices() {
        match character {
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth = depth.saturating_sub(1),
            _ if !quoted && depth == 0 && at >= start && text[at..].starts_with(separator) => {
                parts.push(&text[start..at]);
                start = at + separator.len();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A call as the guide writes it: `host.setting(path, name)`, `fleet.len`, `not_applicable(reason)`.
#[derive(Clone, Debug)]
struct Call {
    receiver: Option<String>,
    name: String,
    /// The arguments, when the call has parentheses.
    args: Option<Vec<String>>,
    text: String,
}

fn parse_call(span: &str) -> Option<Call> {
    let ident_end = |text: &str| {
        text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len())
    };
    let (receiver, rest) = match span.split_once('.') {
        Some((receiver, rest))
            if !receiver.is_empty()
                && receiver.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !receiver.contains('(') =>
        {
            (Some(receiver.to_string()), rest)
        }
        _ => (None, span),
    };
    let end = ident_end(rest);
    if end == 0 {
        return None;
    }
    let name = rest[..end].to_string();
    let after = &rest[end..];
    let args = after.strip_prefix('(').and_then(|inner| {
        let inner = inner.strip_suffix(')')?;
        Some(if inner.trim().is_empty() {
            Vec::new()
        } else {
            split_top_level(inner, ",")
                .into_iter()
                .map(|arg| arg.trim().to_string())
                .collect()
        })
    });
    // A bare word (no receiver, no parentheses) is a field name, not a call.
    if receiver.is_none() && args.is_none() {
        return None;
    }
    Some(Call {
        receiver,
        name,
        args,
        text: span.to_string(),
    })
}

/// One row of a `| call | returns |` table of the guide.
#[derive(Clone, Debug)]
struct Row {
    /// The calls of its first cell.
    calls: Vec<Call>,
    /// The calls and words written in code in its second cell.
    mentioned: Vec<String>,
    /// Its second cell.
    text: String,
}

/// The host API tables of the guide.
struct GuideDocs {
    rows: Vec<Row>,
}

impl GuideDocs {
    fn read(markdown: &str) -> GuideDocs {
        let mut rows = Vec::new();
        for line in markdown.lines() {
            let line = line.trim();
            if !line.starts_with('|') {
                continue;
            }
            let cells = split_cells(line);
            if cells.len() < 2 {
                continue;
            }
            let calls: Vec<Call> = code_spans(&cells[0])
                .iter()
                .filter_map(|span| parse_call(span))
                .collect();
            if calls.is_empty() {
                continue;
            }
            rows.push(Row {
                calls,
                mentioned: code_spans(&cells[1]),
                text: cells[1].trim().to_string(),
            });
        }
        GuideDocs { rows }
    }

    /// Fills in the item's documentation and parameter names from the guide.
    fn document(&self, item: &mut Item) {
        if matches!(item.name.as_str(), "to_string" | "to_debug") {
            let ty = item
                .params
                .first()
                .map(|(_, ty)| ty.clone())
                .unwrap_or_default();
            item.doc = vec![format!(
                "The text of a {ty}, as `print`, `debug` and string interpolation show it."
            )];
            return;
        }
        // An array method (`list.add_name(name)`) is written on a list in the guide.
        let list_method = item.params.first().is_some_and(|(_, ty)| ty == "array")
            && self.rows.iter().any(|row| {
                row.calls
                    .iter()
                    .any(|call| call.name == item.name && call.receiver.as_deref() == Some("list"))
            });
        let receiver = if list_method {
            Some("list")
        } else {
            item.receiver()
        };
        let own_arity = item.params.len() - usize::from(receiver.is_some());
        let matches_call = |call: &Call| {
            call.name == item.name && call.receiver.as_deref() == receiver && {
                // A property is written without parentheses, a method with them.
                item.accessor.is_empty() == call.args.is_some() || receiver.is_none()
            }
        };
        // A property and a method of the same name share their row (`fleet.len`).
        let same_name =
            |call: &Call| call.name == item.name && call.receiver.as_deref() == receiver;
        let exact_row = self
            .rows
            .iter()
            .find(|row| row.calls.iter().any(&matches_call));
        let row = exact_row.or_else(|| {
            self.rows
                .iter()
                .find(|row| row.calls.iter().any(&same_name))
        });
        if let Some(row) = row {
            let exact = exact_row.is_some();
            let matches_call = |call: &Call| {
                if exact {
                    matches_call(call)
                } else {
                    same_name(call)
                }
            };
            let forms: Vec<&str> = row
                .calls
                .iter()
                .filter(|call| matches_call(call))
                .map(|call| call.text.as_str())
                .collect();
            item.doc = wrap(&format!("`{}`: {}", forms.join("` / `"), row.text));
            // Parameter names from a call of the same arity, in either cell.
            let written = row
                .calls
                .iter()
                .cloned()
                .chain(row.mentioned.iter().filter_map(|span| parse_call(span)))
                .filter(|call| matches_call(call))
                .find_map(|call| call.args.filter(|args| args.len() == own_arity));
            if let Some(args) = written {
                name_params(item, receiver, &args);
            } else if let Some(receiver) = receiver {
                item.params[0].0 = receiver.to_string();
            }
            return;
        }
        // A member of a type the guide describes where the call that returns it is.
        let Some(receiver) = receiver else {
            return;
        };
        let Some((_, introducer)) = INTRODUCED_BY.iter().find(|(ty, _)| *ty == receiver) else {
            return;
        };
        let row = self.rows.iter().find(|row| {
            row.calls
                .iter()
                .any(|call| call.text.starts_with(introducer))
        });
        let Some(row) = row else {
            return;
        };
        let written = row.mentioned.iter().find_map(|span| {
            if item.accessor.is_empty() {
                parse_call(span).filter(|call| matches_call(call))
            } else if *span == item.name {
                Some(Call {
                    receiver: Some(receiver.to_string()),
                    name: item.name.clone(),
                    args: None,
                    text: format!("{receiver}.{}", item.name),
                })
            } else {
                None
            }
        });
        if let Some(call) = written {
            let clause = clause_of(&row.text, &call.text, &item.name);
            item.doc = wrap(&format!(
                "`{}`{clause}, on each event record that `{introducer}(...)` returns.",
                call.text
            ));
            match call.args {
                Some(args) if args.len() == own_arity => name_params(item, Some(receiver), &args),
                _ => item.params[0].0 = receiver.to_string(),
            }
        }
    }
}

/// What the guide says right after the code span `span` (or `name`) in `text`, up to the next
/// comma outside parentheses: ` (a map of its fields)`, ` giving one field as text (...)`.
fn clause_of(text: &str, span: &str, name: &str) -> String {
    let found = [format!("`{span}`"), format!("`{name}`")]
        .into_iter()
        .find_map(|written| text.find(&written).map(|at| at + written.len()));
    let Some(after) = found else {
        return String::new();
    };
    let rest = &text[after..];
    let clause = split_top_level(rest, ",")[0];
    let clause = split_top_level(clause, " and ")[0];
    clause.trim_end().to_string()
}

/// Names the item's parameters after the guide's call: the receiver, then the arguments.
fn name_params(item: &mut Item, receiver: Option<&str>, args: &[String]) {
    let offset = usize::from(receiver.is_some());
    if let Some(receiver) = receiver {
        item.params[0].0 = receiver.to_string();
    }
    for (at, arg) in args.iter().enumerate() {
        let name = if arg.starts_with("#{") {
            "filter".to_string()
        } else if !arg.is_empty()
            && arg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !arg.starts_with(|c: char| c.is_ascii_digit())
        {
            arg.clone()
        } else {
            continue;
        };
        item.params[offset + at].0 = name;
    }
}

/// The cells of a Markdown table row (a `|` inside a code span or escaped does not split).
fn split_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let (mut cell, mut in_code, mut escaped) = (String::new(), false, false);
    for character in inner.chars() {
        match character {
            '\\' if !escaped => {
                escaped = true;
                cell.push(character);
                continue;
            }
            '`' => in_code = !in_code,
            '|' if !in_code && !escaped => {
                cells.push(std::mem::take(&mut cell));
                escaped = false;
                continue;
            }
            _ => {}
        }
        escaped = false;
        cell.push(character);
    }
    cells.push(cell);
    cells
}

/// The code spans of a Markdown text.
fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|span| span.trim().to_string())
        .filter(|span| !span.is_empty())
        .collect()
}

/// Splits text into lines of at most 96 characters, at spaces.
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > 96 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The host API items without documentation, as `name(types)`: a test keeps this empty.
    fn undocumented() -> Vec<String> {
        host_api_items(&Engine::new())
            .into_iter()
            .filter(|item| item.doc.is_empty())
            .map(|item| item.key())
            .collect()
    }

    /// Each host API item's key and definition, for tests.
    fn definitions_by_key() -> BTreeMap<String, String> {
        host_api_items(&Engine::new())
            .into_iter()
            .map(|item| (item.key(), item.definition()))
            .collect()
    }

    #[test]
    fn every_host_api_function_is_documented_in_the_guide() {
        let missing = undocumented();
        assert!(
            missing.is_empty(),
            "these functions of the rules engine have no row in the host API tables of docs/writing-rules.md: {missing:?}"
        );
    }

    #[test]
    fn the_host_api_file_names_the_documented_calls() {
        let files = rule_definitions();
        let host = files
            .iter()
            .find(|file| file.name == HOST_API_DEFINITIONS)
            .expect("the host API file");
        assert!(host.text.starts_with("module static;"));
        for expected in [
            "fn setting(host: Host, path: string, name: string) -> map;",
            "fn setting(host: Host, path: string, name: string, default: ?) -> map;",
            "fn events(host: Host, filter: map) -> array;",
            "fn hotfix(host: Host, _: string) -> string;",
            "fn get os(host: Host) -> ?;",
            "fn by(fleet: Fleet, field: string, value: ?) -> FleetSelection;",
            "fn to_array(selection: FleetSelection) -> array;",
            "fn get name(host: Host) -> string;",
            "fn not_applicable(reason: string) -> NotApplicable;",
            "fn not_applicable(host_name: string, reason: string) -> NotApplicable;",
            "fn get channel(event: Event) -> string;",
            "fn text(event: Event, name: string) -> string;",
        ] {
            assert!(
                host.text.contains(expected),
                "no `{expected}` in:\n{}",
                host.text
            );
        }
        assert!(host.text.contains(
            "/// `host.setting(path, name)` / `host.setting(path, name, default)`: an evidence map"
        ));
        // The sandbox's replacements of standard functions are not described twice.
        assert!(!host.text.contains("fn sleep("), "{}", host.text);
        assert!(!host.text.contains("EvalAltResult"), "{}", host.text);
        assert!(host
            .text
            .contains("/// `event.data` (a map of its fields), on each event record"));
        for name in [
            "__builtin__.d.rhai",
            "__builtin-operators__.d.rhai",
            "__static__.d.rhai",
        ] {
            assert!(files.iter().any(|file| file.name == name), "no {name}");
        }
        assert_eq!(rule_definitions(), files, "the same text on every run");
        assert!(definitions_by_key().len() >= 20);
        let names = host_api_names();
        for name in ["setting", "get os", "by_name", "event_evidence", "hotfix"] {
            assert!(names.iter().any(|known| known == name), "{names:?}");
        }
    }

    #[test]
    fn calls_and_cells_are_read_as_the_guide_writes_them() {
        let call = parse_call("host.setting(path, name, default)").unwrap();
        assert_eq!(call.receiver.as_deref(), Some("host"));
        assert_eq!(call.args.unwrap(), ["path", "name", "default"]);
        assert!(parse_call("channel").is_none());
        assert_eq!(parse_call("fleet.len").unwrap().args, None);
        let cells = split_cells("| `a \\| b` | x \\| y | z |");
        assert_eq!(cells.len(), 3, "{cells:?}");
        assert_eq!(code_spans("`a`, b, `c(d)`"), ["a", "c(d)"]);
    }
}
