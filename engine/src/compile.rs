//! Compiles one rule file into a [`CompiledRule`]: the AST, the `RULE` metadata checked against
//! the schema and the pack, and the `check` function it must define (a fleet rule also
//! `summarize`).

use std::collections::BTreeSet;

use rhai::Engine;

use crate::error::RuleLoadError;
use crate::load_checks::check_script;
use crate::load_limits::parse_error_message;
use crate::pack::{PackManifest, SourceFile};
use crate::rule::{RuleMeta, Scope as RuleScope};
use crate::ruleset::{CompiledRule, SummarizeFn};
use crate::sandbox::{source_name, Limits};

/// Compiles `file` of the pack `manifest` names: a syntax error, metadata that is not valid, a
/// `pack` field that names another pack or a missing `check` function is a load error at the
/// place in the file.
pub(crate) fn compile_rule(
    engine: &Engine,
    known: &BTreeSet<String>,
    manifest: &PackManifest,
    file: &SourceFile,
    builtin: bool,
    limits: &Limits,
) -> Result<CompiledRule, RuleLoadError> {
    let mut ast = engine.compile(&file.text).map_err(|error| {
        RuleLoadError::at_position(file, error.position(), parse_error_message(&error, limits))
    })?;
    ast.set_source(source_name(&manifest.name, &file.file_name));
    check_calls_and_imports(engine, known, &ast, file)?;
    let rule_offset = file.text.find("RULE").unwrap_or(0);
    let Some((_, _, value)) = ast
        .iter_literal_variables(true, true)
        .find(|(name, is_constant, _)| *name == "RULE" && *is_constant)
    else {
        return Err(RuleLoadError::in_file(
            file,
            rule_offset,
            "the rule must export its metadata as a constant map: `export const RULE = #{ id: ..., ... };` (with literal values only)",
        ));
    };
    let meta: RuleMeta = rhai::serde::from_dynamic(&value).map_err(|error| {
        // A mistake inside `needs` is reported at its own place, with its path.
        if let Some((path, message)) = needs_problem(&value) {
            let offset = locate_in_rule_map(&file.text, &path).unwrap_or(rule_offset);
            return RuleLoadError::in_file(
                file,
                offset,
                format!("invalid RULE metadata: {}: {message}", path_text(&path)),
            );
        }
        let text = error.to_string();
        let text = text.trim_start_matches("Syntax error: ").to_string();
        // Point at the field the message names, or at the bad value it quotes.
        let offset = first_mentioned_field(&text)
            .and_then(|word| {
                let rest = &file.text[rule_offset..];
                rest.find(&format!("{word}:"))
                    .or_else(|| rest.find(&format!("\"{word}\"")))
                    .map(|at| rule_offset + at)
            })
            .unwrap_or(rule_offset);
        RuleLoadError::in_file(file, offset, format!("invalid RULE metadata: {text}"))
    })?;
    meta.validate().map_err(|message| {
        let field = if message.starts_with("id ") {
            Some("id".to_string())
        } else {
            first_mentioned_field(&message)
        };
        let offset = field
            .and_then(|field| file.text[rule_offset..].find(&format!("{field}:")))
            .map_or(rule_offset, |at| rule_offset + at);
        RuleLoadError::in_file(file, offset, format!("invalid RULE metadata: {message}"))
    })?;
    if meta.pack != manifest.name {
        return Err(RuleLoadError::in_file(
            file,
            file.text[rule_offset..]
                .find("pack")
                .map_or(rule_offset, |at| rule_offset + at),
            format!(
                "the rule says pack `{}` but sits in pack `{}`",
                meta.pack, manifest.name
            ),
        ));
    }
    let check = ast
        .iter_functions()
        .find(|function| function.name == "check" && matches!(function.params.len(), 1 | 2));
    let Some(check) = check else {
        return Err(RuleLoadError::in_file(
            file,
            0,
            match meta.scope {
                RuleScope::Host => "the rule must define `fn check(host)` or `fn check(host, ctx)`",
                RuleScope::Fleet => {
                    "a fleet rule must define `fn check(fleet)` or `fn check(fleet, ctx)`"
                }
            },
        ));
    };
    let takes_context = check.params.len() == 2;
    let check_position = function_position(&file.text, "fn check");
    let summarize = match meta.scope {
        RuleScope::Host => None,
        RuleScope::Fleet => {
            let Some(summarize) = ast.iter_functions().find(|function| {
                function.name == "summarize" && matches!(function.params.len(), 1 | 2)
            }) else {
                return Err(RuleLoadError::in_file(
                    file,
                    file.text.find("fn check").unwrap_or(0),
                    "a fleet rule must define `fn summarize(host)` (or `fn summarize(host, ctx)`), which reduces one host to a small map while it is in memory, besides `fn check(fleet)`, which judges those maps (docs/writing-rules.md, \"Fleet rules\")",
                ));
            };
            Some(SummarizeFn {
                takes_context: summarize.params.len() == 2,
                position: function_position(&file.text, "fn summarize"),
            })
        }
    };
    Ok(CompiledRule {
        meta,
        file: file.clone(),
        builtin,
        ast: without_metadata(&ast, &file.text),
        takes_context,
        check_position,
        summarize,
    })
}

/// The rule's AST as calls run it: every call first evaluates the top-level statements (so that
/// the imports are in place), and the `RULE` metadata map, read once at load time, need not be
/// rebuilt for every host. A rule whose functions reach top-level constants through `global::`
/// keeps its whole AST.
fn without_metadata(ast: &rhai::AST, text: &str) -> rhai::AST {
    if text.contains("global::") {
        return ast.clone();
    }
    let kept: Vec<rhai::Stmt> = ast
        .statements()
        .iter()
        .filter(|statement| !matches!(statement, rhai::Stmt::Var(var, ..) if var.0.name == "RULE"))
        .cloned()
        .collect();
    let mut lean = rhai::AST::new(kept, ast.shared_lib().clone());
    if let Some(source) = ast.source() {
        lean.set_source(source.to_string());
    }
    lean
}

/// Refuses a rule that calls a function that exists nowhere, or imports a module outside its
/// pack's `lib/` folder (in the rule or in a module it imports): the first problem, at its place.
fn check_calls_and_imports(
    engine: &Engine,
    known: &BTreeSet<String>,
    ast: &rhai::AST,
    file: &SourceFile,
) -> Result<(), RuleLoadError> {
    let Some(problem) = check_script(engine, ast, known).into_iter().next() else {
        return Ok(());
    };
    Err(match &problem.module {
        None => RuleLoadError::at_position(file, problem.position, problem.message),
        Some(module) => {
            let (line, column) = (
                problem.position.line().unwrap_or(0),
                problem.position.position().unwrap_or(0),
            );
            RuleLoadError::at_position(
                file,
                problem.import_position,
                format!(
                    "in lib/{module}.rhai (imported here), line {line}, column {column}: {}",
                    problem.message
                ),
            )
        }
    })
}

/// Where `fn NAME` starts in `text`, for errors the sandbox reports without a position.
fn function_position(text: &str, needle: &str) -> rhai::Position {
    text.find(needle)
        .map(|offset| {
            let (line, column) = crate::error::line_column(text, offset);
            rhai::Position::new(
                line.min(u16::MAX as usize) as u16,
                column.min(u16::MAX as usize) as u16,
            )
        })
        .unwrap_or(rhai::Position::NONE)
}

fn first_mentioned_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = message[start..].find('`')? + start;
    Some(message[start..end].to_string())
}

/// One step of the path to a value inside the `RULE` map.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// A field of a map.
    Key(String),
    /// An item of an array (from 0).
    Index(usize),
}

/// `needs.events[0].id`.
fn path_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(key) if text.is_empty() => text.push_str(key),
            Step::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Step::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// The first mistake in the `needs` field of the `RULE` map `rule`, checked as deserialising
/// it checks it: the path to the wrong field or value, and what is wrong.
fn needs_problem(rule: &rhai::Dynamic) -> Option<(Vec<Step>, String)> {
    let map = rule.read_lock::<rhai::Map>()?;
    let needs = map.get("needs")?;
    check_needs(needs, vec![Step::Key("needs".to_string())]).err()
}

type Problem = (Vec<Step>, String);

fn with(path: &[Step], step: Step) -> Vec<Step> {
    let mut path = path.to_vec();
    path.push(step);
    path
}

/// What serde says of `value` as a `T`, without the `Syntax error: ` prefix.
fn serde_problem<T: serde::de::DeserializeOwned>(value: &rhai::Dynamic) -> Option<String> {
    rhai::serde::from_dynamic::<T>(value).err().map(|error| {
        error
            .to_string()
            .trim_start_matches("Syntax error: ")
            .to_string()
    })
}

/// An unknown field of a map whose fields are `known`, with a hint for near misses.
fn unknown_field(key: &str, known: &[&str], hint: Option<&str>) -> String {
    let listed: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
    let mut message = format!(
        "unknown field `{key}`, expected one of {}",
        listed.join(", ")
    );
    if let Some(hint) = hint {
        message.push_str(&format!(" ({hint})"));
    } else if let Some(plural) = known
        .iter()
        .find(|name| name.eq_ignore_ascii_case(&format!("{key}s")))
    {
        message.push_str(&format!(" (did you mean `{plural}`?)"));
    }
    message
}

/// Each item of the array `value` (at `path`) checked by `item`.
fn check_items(
    value: &rhai::Dynamic,
    path: &[Step],
    what: &str,
    item: impl Fn(&rhai::Dynamic, Vec<Step>) -> Result<(), Problem>,
) -> Result<(), Problem> {
    let Some(items) = value.read_lock::<rhai::Array>() else {
        return Err((
            path.to_vec(),
            format!("must be a list ({what}), not {}", type_name(value)),
        ));
    };
    for (index, value) in items.iter().enumerate() {
        item(value, with(path, Step::Index(index)))?;
    }
    Ok(())
}

fn type_name(value: &rhai::Dynamic) -> String {
    match value.type_name() {
        "i64" | "i32" => "an integer".to_string(),
        "string" | "ImmutableString" => "a string".to_string(),
        "map" => "a map".to_string(),
        "array" => "a list".to_string(),
        "()" => "()".to_string(),
        "bool" => "a boolean".to_string(),
        other => other.to_string(),
    }
}

fn check_needs(value: &rhai::Dynamic, path: Vec<Step>) -> Result<(), Problem> {
    const KNOWN: [&str; 4] = ["hives", "keys", "events", "any"];
    let Some(map) = value.read_lock::<rhai::Map>() else {
        return Err((
            path,
            format!(
                "must be a map such as `#{{ hives: [\"SYSTEM\"], events: [#{{ channel: \"System\", ids: [4] }}] }}`, not {}",
                type_name(value)
            ),
        ));
    };
    for (key, item) in map.iter() {
        let at = with(&path, Step::Key(key.to_string()));
        match key.as_str() {
            "hives" => check_items(item, &at, "of hive names", |hive, at| {
                match serde_problem::<crate::rule::HiveNeed>(hive) {
                    Some(message) => Err((at, message)),
                    None => Ok(()),
                }
            })?,
            "keys" => check_items(item, &at, "of key paths", |key, at| {
                if key.is_string() {
                    Ok(())
                } else {
                    Err((
                        at,
                        format!("a key path must be a string, not {}", type_name(key)),
                    ))
                }
            })?,
            "events" => check_items(
                item,
                &at,
                "of `#{ channel, ids, provider }` maps",
                check_event_need,
            )?,
            "any" => check_items(item, &at, "of `needs` maps", check_needs)?,
            other => return Err((at, unknown_field(other, &KNOWN, None))),
        }
    }
    Ok(())
}

fn check_event_need(value: &rhai::Dynamic, path: Vec<Step>) -> Result<(), Problem> {
    const KNOWN: [&str; 3] = ["channel", "ids", "provider"];
    let Some(map) = value.read_lock::<rhai::Map>() else {
        return Err((
            path,
            format!(
                "an event need must be a map such as `#{{ channel: \"System\", ids: [4] }}`, not {}",
                type_name(value)
            ),
        ));
    };
    for (key, item) in map.iter() {
        let at = with(&path, Step::Key(key.to_string()));
        match key.as_str() {
            // A provider of `()` is no provider.
            "channel" | "provider" if item.is_string() => {}
            "provider" if item.is_unit() => {}
            "channel" | "provider" => {
                return Err((
                    at,
                    format!("`{key}` must be a string, not {}", type_name(item)),
                ))
            }
            "ids" => check_items(item, &at, "of event ids", |id, at| {
                match id.as_int().ok().filter(|id| u32::try_from(*id).is_ok()) {
                    Some(_) => Ok(()),
                    None => Err((
                        at,
                        format!(
                            "an event id must be an integer from 0 to {}, not {}",
                            u32::MAX,
                            if id.is_int() {
                                id.to_string()
                            } else {
                                type_name(id)
                            }
                        ),
                    )),
                }
            })?,
            "id" => {
                return Err((
                    at,
                    unknown_field(
                        key,
                        &KNOWN,
                        Some(&format!(
                            "event ids are a list here: `ids: [{}]`",
                            item.as_int().map_or("4".to_string(), |id| id.to_string())
                        )),
                    ),
                ))
            }
            other => return Err((at, unknown_field(other, &KNOWN, None))),
        }
    }
    if !map.contains_key("channel") {
        return Err((path, "missing field `channel`".to_string()));
    }
    Ok(())
}

/// A token of Rhai source, as far as locating a field of a literal map needs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// `#{`, `{`, `[` or `(`.
    Open,
    /// `}`, `]` or `)`.
    Close,
    Comma,
    Colon,
    /// An identifier, or the text of a string literal.
    Word(String),
    Other,
}

/// The tokens of `text` with their byte offsets; strings and comments are single tokens or
/// skipped, so that brackets and commas inside them do not count.
fn tokens(text: &str) -> Vec<(usize, Token)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let byte = bytes[at];
        match byte {
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at = text[at..].find('\n').map_or(bytes.len(), |end| at + end);
                continue;
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at = text[at + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |end| at + 2 + end + 2);
                continue;
            }
            b'"' | b'\'' => {
                let mut end = at + 1;
                while end < bytes.len() && bytes[end] != byte {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let inner = text.get(at + 1..end.min(bytes.len())).unwrap_or_default();
                out.push((start, Token::Word(inner.to_string())));
                at = end + 1;
                continue;
            }
            b'`' => {
                let mut end = at + 1;
                while end < bytes.len() {
                    if bytes[end] == b'`' {
                        if bytes.get(end + 1) == Some(&b'`') {
                            end += 2;
                            continue;
                        }
                        break;
                    }
                    end += 1;
                }
                let inner = text.get(at + 1..end.min(bytes.len())).unwrap_or_default();
                out.push((start, Token::Word(inner.to_string())));
                at = end + 1;
                continue;
            }
            b'#' if bytes.get(at + 1) == Some(&b'{') => {
                out.push((start, Token::Open));
                at += 2;
                continue;
            }
            b'{' | b'[' | b'(' => out.push((start, Token::Open)),
            b'}' | b']' | b')' => out.push((start, Token::Close)),
            b',' => out.push((start, Token::Comma)),
            b':' if bytes.get(at + 1) == Some(&b':') => {
                out.push((start, Token::Other));
                at += 2;
                continue;
            }
            b':' => out.push((start, Token::Colon)),
            _ if byte == b'_' || byte.is_ascii_alphanumeric() => {
                let mut end = at;
                while end < bytes.len()
                    && (bytes[end] == b'_' || bytes[end].is_ascii_alphanumeric())
                {
                    end += 1;
                }
                out.push((start, Token::Word(text[at..end].to_string())));
                at = end;
                continue;
            }
            _ if byte.is_ascii_whitespace() => {}
            _ => out.push((start, Token::Other)),
        }
        at += 1;
    }
    out
}

/// The byte offset in `text` of the value at `path` inside the literal `RULE` map: of the key
/// for a field, of the item for an array index. `None` when the source does not show it
/// literally.
fn locate_in_rule_map(text: &str, path: &[Step]) -> Option<usize> {
    let tokens = tokens(text);
    // `const RULE = #{`
    let mut at = tokens.windows(4).position(|window| {
        window[0].1 == Token::Word("const".to_string())
            && window[1].1 == Token::Word("RULE".to_string())
            && window[2].1 == Token::Other
            && window[3].1 == Token::Open
    })? + 3;
    let mut found = None;
    for step in path {
        // `at` is the opening bracket of the container the step looks into.
        if tokens.get(at)?.1 != Token::Open {
            return None;
        }
        let (item, offset) = find_in_container(&tokens, at, step)?;
        found = Some(offset);
        at = item;
    }
    found
}

/// In the container opened at `tokens[open]`, the item `step` names: the index of the first
/// token of its value, and the offset to report (the key of a field, the start of an item).
fn find_in_container(
    tokens: &[(usize, Token)],
    open: usize,
    step: &Step,
) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut item = 0usize;
    let mut item_start = true;
    let mut index = open + 1;
    while index < tokens.len() {
        let (offset, token) = &tokens[index];
        if depth == 0 {
            if *token == Token::Close {
                return None;
            }
            if *token == Token::Comma {
                item += 1;
                item_start = true;
                index += 1;
                continue;
            }
            if item_start {
                item_start = false;
                match step {
                    Step::Index(wanted) if *wanted == item => return Some((index, *offset)),
                    Step::Key(wanted) => {
                        if let (Token::Word(word), Some((_, Token::Colon))) =
                            (token, tokens.get(index + 1))
                        {
                            if word == wanted {
                                return Some((index + 2, *offset));
                            }
                        }
                    }
                    Step::Index(_) => {}
                }
            }
        }
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Step {
        Step::Key(name.to_string())
    }

    #[test]
    fn fields_are_found_past_strings_comments_and_other_maps() {
        let text = "//! The RULE: #{ needs: [ ] } in a comment.\nexport const RULE = #{\n    id: \"X-001\", // id: \"not here\"\n    description: `needs: #{ events: [`` ] }`,\n    /* needs: */ \"needs\": #{ any: [#{ hives: [\"SYSTEM\"] }, #{ events: [#{ channel: \"a,b\", id: 4 }] }] },\n};\n";
        let path = [
            key("needs"),
            key("any"),
            Step::Index(1),
            key("events"),
            Step::Index(0),
            key("id"),
        ];
        let offset = locate_in_rule_map(text, &path).expect("found");
        assert!(text[offset..].starts_with("id: 4"), "{}", &text[offset..]);
        let offset = locate_in_rule_map(text, &path[..3]).expect("found");
        assert!(
            text[offset..].starts_with("#{ events"),
            "{}",
            &text[offset..]
        );
        assert_eq!(locate_in_rule_map(text, &[key("needs"), key("keys")]), None);
        assert_eq!(
            locate_in_rule_map(text, &[key("needs"), key("any"), Step::Index(2)]),
            None
        );
        assert_eq!(path_text(&path), "needs.any[1].events[0].id");
    }
}
