//! The rule model: the `RULE` metadata map every `.rhai` rule exports, validated on load.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How serious a finding is. Ordered from `info` to `critical`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; no change needed.
    Info,
    /// Minor weakness.
    Low,
    /// Should be fixed.
    Medium,
    /// Breaks access or opens the host to attack; fix soon.
    High,
    /// Fix now.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a rule looks at one host at a time or at the whole bundle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `check(host)` runs once per host.
    #[default]
    Host,
    /// `check(fleet)` runs once for the bundle; `fleet.hosts` lists every host.
    Fleet,
}

impl Scope {
    /// The lower-case name, as written in rule metadata.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Host => "host",
            Scope::Fleet => "fleet",
        }
    }
}

/// Event records a rule reads: a channel and, optionally, event ids and a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventNeed {
    /// The channel, such as `Security` or `Microsoft-Windows-SMBServer/Security`.
    pub channel: String,
    /// The event ids; empty means every id of the channel.
    #[serde(default)]
    pub ids: Vec<u32>,
    /// The provider, when the id alone is ambiguous.
    #[serde(default)]
    pub provider: Option<String>,
}

/// What evidence a rule needs, and so where it applies. The engine checks it before running the
/// rule: a host that lacks it gets the outcome *not applicable*, with the reason, and the rule
/// does not run there (a fleet rule still sees the host in `fleet.hosts`).
///
/// - every hive in `hives` must be present;
/// - every key in `keys` must exist (`HKLM\SYSTEM\CurrentControlSet\...` resolves as in rules);
/// - when the rule names no hive and no key, a log of at least one channel in `events` must be
///   present (a log that is present but holds no matching record is evidence of absence);
/// - when `any` is not empty, at least one of its alternatives must hold as well, each judged by
///   the same rules (so a rule can apply on `SOFTWARE` *or* on the `Setup` log).
///
/// `events` also decides which records the collectors render, from the top level and from every
/// alternative.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Needs {
    /// Hives the rule needs, every one of them: `SYSTEM`, `SOFTWARE`, `HKCU`, `SAM`, `SECURITY`.
    #[serde(default)]
    pub hives: Vec<HiveNeed>,
    /// Registry keys the rule needs, every one of them, as rules write paths.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Event records the rule reads.
    #[serde(default)]
    pub events: Vec<EventNeed>,
    /// Alternatives: the rule applies when at least one of them holds (in addition to the
    /// requirements above).
    #[serde(default)]
    pub any: Vec<Needs>,
}

impl Needs {
    /// Every event need, from the top level and from the alternatives.
    pub fn all_events(&self) -> Vec<&EventNeed> {
        let mut events: Vec<&EventNeed> = self.events.iter().collect();
        for alternative in &self.any {
            events.extend(alternative.all_events());
        }
        events
    }
}

/// A hive a rule needs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum HiveNeed {
    /// `HKLM\SYSTEM`.
    System,
    /// `HKLM\SOFTWARE`.
    Software,
    /// `HKCU\Software` or NTUSER.DAT.
    Hkcu,
    /// `HKLM\SAM`.
    Sam,
    /// `HKLM\SECURITY`.
    Security,
}

impl HiveNeed {
    /// The name as rules write it: `SYSTEM`, `SOFTWARE`, `HKCU`, `SAM`, `SECURITY`.
    pub fn name(self) -> &'static str {
        match self {
            HiveNeed::System => "SYSTEM",
            HiveNeed::Software => "SOFTWARE",
            HiveNeed::Hkcu => "HKCU",
            HiveNeed::Sam => "SAM",
            HiveNeed::Security => "SECURITY",
        }
    }
}

/// The metadata of one rule, the `RULE` constant its file exports. Its JSON Schema is committed
/// as `schemas/rule.schema.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    /// Stable identifier, such as `HW-HARD-003`; it appears in SARIF and in waivers.
    #[schemars(regex(pattern = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"))]
    pub id: String,
    /// The pack the rule belongs to; must equal the pack folder's manifest name.
    pub pack: String,
    /// One line saying what is wrong when the rule fires.
    pub title: String,
    /// What the rule checks and why it matters.
    pub description: String,
    /// The severity of its findings.
    pub severity: Severity,
    /// Free-form tags, such as `smb` or `security`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// KB articles, CIS items, STIG ids and URLs.
    #[serde(default)]
    pub references: Vec<String>,
    /// One host at a time, or the whole bundle.
    #[serde(default)]
    pub scope: Scope,
    /// The evidence the rule reads.
    #[serde(default)]
    pub needs: Needs,
    /// Fix guidance in Markdown. `{{name}}` is replaced with the finding's `fix_values.name`.
    pub fix: String,
    /// Profiles the rule belongs to, such as `cis`; empty means every profile.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// A page that explains the rule.
    #[serde(default)]
    pub help_uri: Option<String>,
    /// Whether the rule rests on a fact that is not yet confirmed, so every finding is inferred.
    #[serde(default)]
    pub inferred: bool,
    /// The site values (`--param NAME=VALUE`) the rule reads from `ctx.params`, by name, with
    /// what each means. A name may end in `*` for a family (`min_ubr.*`). A `--param` that no
    /// loaded rule declares is refused, so a typo cannot pass unnoticed.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
}

/// Whether the `--param` name `name` is one that `declared` (a name, or a prefix ending in
/// `*`) stands for. Names compare exactly, as `ctx.params` looks them up.
pub fn param_declared(declared: &str, name: &str) -> bool {
    match declared.strip_suffix('*') {
        Some(prefix) => name.len() > prefix.len() && name.starts_with(prefix),
        None => declared == name,
    }
}

impl RuleMeta {
    /// Checks what the type system cannot: the id's form and non-empty texts.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = {
            let mut parts = self.id.split('-');
            let first = parts.next().unwrap_or_default();
            let rest: Vec<&str> = parts.collect();
            !first.is_empty()
                && first.starts_with(|c: char| c.is_ascii_uppercase())
                && first
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && !rest.is_empty()
                && rest.iter().all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                })
        };
        if !id_ok {
            return Err(format!(
                "id `{}` must look like `HW-HARD-003`: upper-case letters and digits joined by `-`",
                self.id
            ));
        }
        for (field, text) in [
            ("pack", &self.pack),
            ("title", &self.title),
            ("description", &self.description),
            ("fix", &self.fix),
        ] {
            if text.trim().is_empty() {
                return Err(format!("`{field}` must not be empty"));
            }
        }
        Ok(())
    }

    /// Whether the rule runs under `profile`.
    pub fn in_profile(&self, profile: &str) -> bool {
        self.profiles.is_empty()
            || self
                .profiles
                .iter()
                .any(|name| name.eq_ignore_ascii_case(profile))
    }

    /// The fix text with `{{name}}` placeholders filled from `values`; unknown placeholders stay.
    pub fn render_fix(&self, values: &BTreeMap<String, serde_json::Value>) -> String {
        self.render_fix_within(values, usize::MAX).0
    }

    /// [`RuleMeta::render_fix`], cut at `max_bytes` with a visible marker; also says whether it
    /// was cut. The template is read once, left to right, and a filled-in value is never read
    /// again for placeholders, so the work is bounded by what is kept.
    pub fn render_fix_within(
        &self,
        values: &BTreeMap<String, serde_json::Value>,
        max_bytes: usize,
    ) -> (String, bool) {
        let mut out = Bounded {
            text: String::with_capacity(self.fix.len().min(max_bytes)),
            max: max_bytes,
            cut: false,
        };
        let mut rest = self.fix.as_str();
        while !out.cut {
            let Some(open) = rest.find("{{") else {
                out.push(rest);
                break;
            };
            out.push(&rest[..open]);
            let after = &rest[open + 2..];
            let value = after
                .find("}}")
                .and_then(|close| Some((values.get(&after[..close])?, close)));
            match value {
                Some((value, close)) => {
                    push_fix_value(&mut out, value);
                    rest = &after[close + 2..];
                }
                None => {
                    // Not a known placeholder: keep the brace and look again one byte on, so
                    // that `{{{name}}}` fills the inner placeholder.
                    out.push("{");
                    rest = &rest[open + 1..];
                }
            }
        }
        if out.cut {
            out.text.push_str(&format!(
                "…[cut: the fix guidance is longer than the limit of {max_bytes} bytes]"
            ));
        }
        (out.text, out.cut)
    }
}

/// Text that stops growing at `max` bytes.
struct Bounded {
    text: String,
    max: usize,
    cut: bool,
}

impl Bounded {
    fn push(&mut self, piece: &str) {
        if self.cut {
            return;
        }
        let room = self.max - self.text.len();
        if piece.len() <= room {
            self.text.push_str(piece);
        } else {
            self.text
                .push_str(&piece[..crate::budget::floor_char_boundary(piece, room)]);
            self.cut = true;
        }
    }
}

/// A fix value as the fix text shows it: strings as they are, arrays joined with `, `, other
/// values as JSON.
fn push_fix_value(out: &mut Bounded, value: &serde_json::Value) {
    match value {
        serde_json::Value::String(text) => out.push(text),
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(", ");
                }
                match item {
                    serde_json::Value::String(text) => out.push(text),
                    other => out.push(&other.to_string()),
                }
                if out.cut {
                    return;
                }
            }
        }
        other => out.push(&other.to_string()),
    }
}

/// The JSON Schema of [`RuleMeta`], as committed in `schemas/rule.schema.json`.
pub fn rule_schema() -> schemars::Schema {
    schemars::schema_for!(RuleMeta)
}
