//! How the summary shows a rule's fix guidance once for all its findings ([`FixPlan`]), worked
//! out one finding at a time ([`FixPlanner`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::Finding;
use crate::rule::RuleMeta;

/// How a rule's fix guidance is shown once for all its findings.
///
/// The fix text of a finding is the rule's template with the finding's `fix_values` filled in.
/// The summary fills each placeholder whose value is the same in every finding of the rule, and
/// writes the others as `<name>`; under each finding it gives the values of those `<name>`
/// parts (leaving out `host` when it is the host the finding is listed under). A finding whose
/// fix text is not the template filled with its values (the text was cut to the limits, or no
/// template is known) shows its own fix text. Without a template, the first finding's fix text
/// stands for the rule, and findings with another text show their own.
pub(super) struct FixPlan {
    /// The text shown once for the rule.
    pub(super) shared: String,
    /// The placeholders written as `<name>`, whose values each finding lists.
    pub(super) varying: Vec<String>,
    /// For each finding, whether it shows its own fix text instead.
    pub(super) own: Vec<bool>,
}

fn plain_values(finding: &Finding) -> BTreeMap<String, serde_json::Value> {
    finding
        .fix_values
        .iter()
        .map(|(name, value)| (name.clone(), value.0.clone()))
        .collect()
}

/// The plan of `findings` at once (the tests' view of [`FixPlanner`]).
#[cfg(test)]
pub(super) fn plan_fix(meta: Option<&RuleMeta>, findings: &[&Finding]) -> FixPlan {
    let mut planner = FixPlanner::new(meta);
    for finding in findings {
        planner.add(finding);
    }
    planner.plan()
}

/// Works out a [`FixPlan`] one finding at a time, so that a rule's findings need not be in
/// memory together.
pub(super) struct FixPlanner<'m> {
    meta: Option<&'m RuleMeta>,
    /// The first finding's fix text and values.
    first: Option<(String, BTreeMap<String, serde_json::Value>)>,
    /// Every fix value name of the findings that the template uses.
    names: BTreeSet<String>,
    /// The names whose value is not the first finding's in some finding.
    differ: BTreeSet<String>,
    /// Per finding: whether its fix text is not the template filled with its values.
    own_by_template: Vec<bool>,
    /// Per finding: whether its fix text is not the first finding's.
    own_by_first: Vec<bool>,
}

impl<'m> FixPlanner<'m> {
    pub(super) fn new(meta: Option<&'m RuleMeta>) -> Self {
        FixPlanner {
            meta,
            first: None,
            names: BTreeSet::new(),
            differ: BTreeSet::new(),
            own_by_template: Vec::new(),
            own_by_first: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, finding: &Finding) {
        let values = plain_values(finding);
        let (first_fix, first_values) = self
            .first
            .get_or_insert_with(|| (finding.fix.clone(), values.clone()));
        for (name, value) in first_values.iter() {
            if values.get(name) != Some(value) {
                self.differ.insert(name.clone());
            }
        }
        self.own_by_first.push(finding.fix != *first_fix);
        if let Some(meta) = self.meta {
            for name in values.keys() {
                if meta.fix.contains(&format!("{{{{{name}}}}}")) {
                    self.names.insert(name.clone());
                }
            }
            self.own_by_template
                .push(finding.fix != meta.render_fix(&values));
        }
    }

    pub(super) fn plan(self) -> FixPlan {
        let (first_fix, first_values) = self.first.unwrap_or_default();
        if let Some(meta) = self.meta {
            if self.own_by_template.iter().any(|own| !own) {
                let mut values = BTreeMap::new();
                let mut varying = Vec::new();
                for name in self.names {
                    match first_values
                        .get(&name)
                        .filter(|_| !self.differ.contains(&name))
                    {
                        Some(value) => {
                            values.insert(name, value.clone());
                        }
                        None => {
                            values.insert(
                                name.clone(),
                                serde_json::Value::String(format!("<{name}>")),
                            );
                            varying.push(name);
                        }
                    }
                }
                return FixPlan {
                    shared: meta.render_fix(&values),
                    varying,
                    own: self.own_by_template,
                };
            }
        }
        FixPlan {
            shared: first_fix,
            varying: Vec::new(),
            own: self.own_by_first,
        }
    }
}

/// A fix value as the fix text shows it: strings as they are, arrays joined with `, `, other
/// values as JSON.
pub(super) fn fix_value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_values_read_as_the_fix_text_shows_them() {
        assert_eq!(fix_value_text(&serde_json::json!("a b")), "a b");
        assert_eq!(
            fix_value_text(&serde_json::json!(["x", 2, true])),
            "x, 2, true"
        );
        assert_eq!(fix_value_text(&serde_json::json!(5)), "5");
    }
}
