//! What stopped a rule, read from Rhai's error: damaged evidence, the run's deadline, or the
//! rule itself (described in words, at the position in the rule's own file).

use rhai::EvalAltResult;

use crate::host_api::UnreadableEvidence;
use crate::sandbox::RunExpired;

/// Whether the run's deadline, rather than the rule or its own limits, stopped the rule.
pub(crate) fn stopped_by_run_deadline(error: &EvalAltResult) -> bool {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => stopped_by_run_deadline(inner),
        EvalAltResult::ErrorTerminated(value, _) => value.is::<RunExpired>(),
        _ => false,
    }
}

/// The damaged-evidence error at the bottom of `error`, when that is what stopped the rule.
pub(crate) fn unreadable_cause(error: &EvalAltResult) -> Option<UnreadableEvidence> {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => unreadable_cause(inner),
        EvalAltResult::ErrorRuntime(value, _) => value.clone().try_cast::<UnreadableEvidence>(),
        _ => None,
    }
}

/// The position of the failing statement in the rule's own file: errors inside a `lib/` module
/// are reported at the rule's call into it.
pub(crate) fn innermost_position(error: &EvalAltResult, rule_source: &str) -> rhai::Position {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, source, inner, position) => {
            if !source.is_empty() && source != rule_source {
                return *position;
            }
            let inner_position = innermost_position(inner, rule_source);
            if inner_position.is_none() {
                *position
            } else {
                inner_position
            }
        }
        EvalAltResult::ErrorInModule(_, _, position) => *position,
        other => other.position(),
    }
}

pub(crate) fn describe_eval_error(error: &EvalAltResult) -> String {
    match error {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "sandbox limit: the rule ran too many operations (an endless loop?)".to_string()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "sandbox limit: calls nested too deeply (endless recursion?)".to_string()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!("sandbox limit: {what} grew too large")
        }
        EvalAltResult::ErrorTerminated(reason, _) => {
            format!("sandbox limit: {reason}")
        }
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) if name == "check" => {
            describe_eval_error(inner)
        }
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => {
            format!("in {name}(): {}", describe_eval_error(inner))
        }
        other => other.to_string(),
    }
}
