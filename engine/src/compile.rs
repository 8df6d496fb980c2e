//! Compiles one rule file into a [`CompiledRule`]: the AST, the `RULE` metadata checked against
//! the schema and the pack, and the `check` function it must define (a fleet rule also
//! `summarize`).

use rhai::Engine;

use crate::error::RuleLoadError;
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
    manifest: &PackManifest,
    file: &SourceFile,
    builtin: bool,
    limits: &Limits,
) -> Result<CompiledRule, RuleLoadError> {
    let mut ast = engine.compile(&file.text).map_err(|error| {
        RuleLoadError::at_position(file, error.position(), parse_error_message(&error, limits))
    })?;
    ast.set_source(source_name(&manifest.name, &file.file_name));
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
        ast,
        takes_context,
        check_position,
        summarize,
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
