//! What a rule returns besides findings (that it does not apply, or that its pass rests on an
//! assumption), and where a fleet rule's reasons wait until it returns.
//!
//! A fleet rule may declare `not_applicable(host.name, reason)` for every host of the fleet
//! and gathers them until `check` returns; at 100,000 hosts their reasons alone were tens of
//! megabytes. While a fleet rule's `check` runs, each reason goes to a spool as it is made,
//! and the value the rule holds is small.

use std::cell::RefCell;
use std::sync::Arc;

use rhai::ImmutableString;

use crate::budget::{shorten, MAX_MESSAGE_BYTES};
use crate::spool::Spool;

thread_local! {
    /// The spool of the fleet rule whose `check` runs on this thread, if one does.
    static REASONS: RefCell<Option<Arc<Spool<String>>>> = const { RefCell::new(None) };
}

/// What a rule returns to say it does not apply: `not_applicable("reason")` in a host rule,
/// `not_applicable(host_name, "reason")` in a fleet rule (one per host).
#[derive(Clone, Debug)]
pub struct NotApplicable {
    /// The host, for fleet rules.
    pub host: Option<ImmutableString>,
    reason: Reason,
}

/// Where the reason is.
#[derive(Clone, Debug)]
enum Reason {
    Text(ImmutableString),
    /// In the spool of the fleet rule that made it, at this position.
    Spooled(Arc<Spool<String>>, usize),
}

impl NotApplicable {
    /// Declines for `host` (for fleet rules) because of `reason`, cut to the longest message a
    /// rule may give. While a fleet rule's `check` runs on this thread, the reason is spooled.
    pub fn new(host: Option<ImmutableString>, reason: ImmutableString) -> NotApplicable {
        let reason = if reason.len() > MAX_MESSAGE_BYTES {
            ImmutableString::from(shorten(&reason, MAX_MESSAGE_BYTES))
        } else {
            reason
        };
        let reason = REASONS.with(|reasons| match reasons.borrow().as_ref() {
            Some(spool) => Reason::Spooled(spool.clone(), spool.push(&reason.to_string())),
            None => Reason::Text(reason),
        });
        NotApplicable { host, reason }
    }

    /// Why the rule does not apply (empty if the scan's temporary file lost it; the report
    /// then says results were lost).
    pub fn reason(&self) -> String {
        match &self.reason {
            Reason::Text(text) => text.to_string(),
            Reason::Spooled(spool, at) => spool.get(*at).unwrap_or_default(),
        }
    }
}

/// What a rule returns to say it looked and found nothing, but that this verdict rests on an
/// assumption: `passed_inferred("reason")` in a host rule, `passed_inferred(host_name,
/// "reason")` in a fleet rule. The host passes, marked inferred, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InferredPass(pub NotApplicable);

impl InferredPass {
    /// Passes `host` (for fleet rules), inferred because of `reason`; kept as
    /// [`NotApplicable::new`] keeps its reason.
    pub fn new(host: Option<ImmutableString>, reason: ImmutableString) -> InferredPass {
        InferredPass(NotApplicable::new(host, reason))
    }

    /// The host, for fleet rules.
    pub fn host(&self) -> Option<&ImmutableString> {
        self.0.host.as_ref()
    }

    /// What the pass assumes.
    pub fn reason(&self) -> String {
        self.0.reason()
    }
}

/// The reason of a pass inferred for `assumptions` (what `passed_inferred(...)` said) and for
/// what the rule read (`read`, already worded `inferred: ...`), in that order.
pub(crate) fn inferred_pass_reason(assumptions: &[String], read: Option<&str>) -> Option<String> {
    let assumed =
        (!assumptions.is_empty()).then(|| format!("inferred: {}", assumptions.join("; ")));
    match (assumed, read) {
        (Some(assumed), Some(read)) => Some(format!(
            "{assumed}; and {}",
            read.strip_prefix("inferred: ").unwrap_or(read)
        )),
        (Some(assumed), None) => Some(assumed),
        (None, read) => read.map(str::to_owned),
    }
}

impl PartialEq for NotApplicable {
    fn eq(&self, other: &Self) -> bool {
        self.host == other.host && self.reason() == other.reason()
    }
}

impl Eq for NotApplicable {}

/// While alive, the reasons of `not_applicable(...)` made on this thread are spooled.
pub(crate) struct SpoolingReasons {
    before: Option<Arc<Spool<String>>>,
}

impl SpoolingReasons {
    /// Spools the reasons made on this thread until dropped.
    pub(crate) fn enter() -> SpoolingReasons {
        let before = REASONS.with(|reasons| reasons.replace(Some(Arc::new(Spool::new()))));
        SpoolingReasons { before }
    }
}

impl Drop for SpoolingReasons {
    fn drop(&mut self) {
        let before = self.before.take();
        REASONS.with(|reasons| *reasons.borrow_mut() = before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_spooled_only_while_a_fleet_check_runs_and_read_back_the_same() {
        let plain = NotApplicable::new(None, "no SYSTEM hive".into());
        assert!(matches!(plain.reason, Reason::Text(_)));
        let spooled = {
            let _spooling = SpoolingReasons::enter();
            NotApplicable::new(Some("FS01".into()), "no SYSTEM hive".into())
        };
        assert!(matches!(spooled.reason, Reason::Spooled(..)));
        assert_eq!(spooled.reason(), "no SYSTEM hive");
        assert_eq!(spooled.reason(), plain.reason());
        // Once the guard is gone, reasons are kept as text again; a long one is cut.
        let after = NotApplicable::new(None, "x".repeat(MAX_MESSAGE_BYTES + 10).into());
        assert!(matches!(after.reason, Reason::Text(_)));
        let cut = after.reason();
        assert!(cut.starts_with(&"x".repeat(MAX_MESSAGE_BYTES)));
        assert!(
            cut.ends_with("…[10 bytes cut]"),
            "{}",
            &cut[MAX_MESSAGE_BYTES..]
        );
    }
}
