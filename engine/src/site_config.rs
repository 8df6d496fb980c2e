//! The site configuration file `hiveward.toml`: default options of `scan` and `merge`, rule
//! selection, per-rule severity overrides and site parameters, read and checked before anything
//! else runs. Which options the command line leaves to it is the binary's business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::deadline::Timeout;
use crate::rule::Severity;
use crate::scan::Requirement;
use crate::waiver::Location;

/// The name of the configuration file looked for in the working directory.
pub const CONFIG_FILE_NAME: &str = "hiveward.toml";

/// `hiveward.toml`. Every table and key is optional; a key the file does not know is refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hiveward site configuration (hiveward.toml)")]
pub struct SiteConfig {
    /// Report options, for `scan` and `merge` alike.
    #[serde(default)]
    pub report: ReportDefaults,
    /// Options of `scan`.
    #[serde(default)]
    pub scan: ScanDefaults,
    /// Which rules `scan` loads and runs.
    #[serde(default)]
    pub rules: RulesDefaults,
    /// Severity overrides by rule id, such as `"HW-SMB1-001" = "critical"`: the findings of that
    /// rule carry this severity in every report, and `fail_on` and `severity>=` selections
    /// judge them by it. Every id must name a loaded rule.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// Site values for rules, as `--param KEY=VALUE` gives them, such as
    /// `"min_ubr.17763" = "5458"`; a `--param` of the same key wins.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// `[report]`: the report options of `scan` and `merge`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportDefaults {
    /// The format of the main report (`--format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ReportFormat>,
    /// The lowest severity that fails the run (`--fail-on`), or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<FailOnSetting>,
    /// The waiver file (`--waivers`), relative to this file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waivers: Option<PathBuf>,
    /// The baseline file (`--baseline`), relative to this file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<PathBuf>,
    /// Do not exit 3 for unreadable or damaged evidence (`--allow-partial`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_partial: Option<bool>,
    /// Leave waived and baselined findings out of SARIF (`--sarif-omit-suppressed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sarif_omit_suppressed: Option<bool>,
    /// When the text report on standard output is coloured (`--color`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<ColorSetting>,
    /// Text report: only the totals, the host table and the verdict (`--quiet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<bool>,
    /// Text report: every finding under its host (`--detail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<bool>,
}

/// `[scan]`: the options of `scan` that are not about the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanDefaults {
    /// The baseline profile (`--profile`), such as `cis` or `stig-2012`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub profile: Option<String>,
    /// Worker threads (`--jobs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub jobs: Option<usize>,
    /// Evidence every host must have (`--require`): `system`, `software`, `hkcu`, `sam`,
    /// `security`, `events` or `log:CHANNEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<Vec<String>>,
    /// The time limit of the whole run (`--timeout`), such as `10m` or `1h30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\s*(\d+\s*(ms|s|m|h)\s*)+$"))]
    pub timeout: Option<String>,
}

/// `[rules]`: the packs `scan` loads and the rules it runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesDefaults {
    /// Pack folders, or folders of packs, to load besides the built-in packs (`--rules`),
    /// relative to this file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirs: Option<Vec<PathBuf>>,
    /// Do not load the built-in packs (`--no-builtin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_builtin: Option<bool>,
    /// Run only these rules (`--only`): ids, id globs, pack names or severity bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<String>>,
    /// Skip these rules (`--exclude`), written as for `only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<String>>,
}

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// The text report.
    Text,
    /// JSON (`schemas/findings.schema.json`).
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
    /// One self-contained HTML page.
    Html,
    /// One CSV row per finding.
    Csv,
    /// Markdown.
    Markdown,
}

impl ReportFormat {
    /// The name as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Text => "text",
            ReportFormat::Json => "json",
            ReportFormat::Sarif => "sarif",
            ReportFormat::Junit => "junit",
            ReportFormat::Html => "html",
            ReportFormat::Csv => "csv",
            ReportFormat::Markdown => "markdown",
        }
    }
}

/// `fail_on`: a severity, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailOnSetting {
    /// Any finding fails the run.
    Info,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical findings only.
    Critical,
    /// No finding fails the run.
    Never,
}

impl FailOnSetting {
    /// The severity at and above which findings fail the run; `None` for never.
    pub fn severity(self) -> Option<Severity> {
        match self {
            FailOnSetting::Info => Some(Severity::Info),
            FailOnSetting::Low => Some(Severity::Low),
            FailOnSetting::Medium => Some(Severity::Medium),
            FailOnSetting::High => Some(Severity::High),
            FailOnSetting::Critical => Some(Severity::Critical),
            FailOnSetting::Never => None,
        }
    }
}

/// `color`: when the text report is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColorSetting {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Why a configuration file cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SiteConfigError {
    /// The file cannot be read.
    #[error("{origin}: cannot read the configuration file: {message}")]
    #[diagnostic(code(hiveward::config::unreadable))]
    Unreadable {
        /// The file, as given.
        origin: String,
        /// Why.
        message: String,
    },
    /// The file is not valid TOML, holds a key it does not know, or a value is wrong.
    #[error("{origin}:{line}:{column}: {message}")]
    #[diagnostic(
        code(hiveward::config::invalid),
        help(
            "hiveward.toml takes the tables [report], [scan], [rules], [severity] and [params] (see docs/configuration.md and schemas/config.schema.json)"
        )
    )]
    Invalid {
        /// The file, as given.
        origin: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What is wrong.
        message: String,
        /// The file text.
        #[source_code]
        source_code: Arc<NamedSource<String>>,
        /// Where.
        #[label("{message}")]
        span: SourceSpan,
    },
}

impl SiteConfigError {
    /// The message, without the location.
    pub fn message(&self) -> &str {
        match self {
            SiteConfigError::Unreadable { message, .. }
            | SiteConfigError::Invalid { message, .. } => message,
        }
    }
}

/// A configuration file, read and checked, with its relative paths resolved against its folder.
#[derive(Clone, Debug)]
pub struct LoadedSiteConfig {
    /// The file, as given or found.
    pub origin: String,
    /// Its text, for diagnostics that point into it.
    pub text: String,
    /// What it says, with paths resolved.
    pub config: SiteConfig,
    /// `[scan] timeout`, parsed.
    pub timeout: Option<Timeout>,
    /// `[scan] require`, parsed.
    pub require: Option<Vec<Requirement>>,
}

impl LoadedSiteConfig {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<LoadedSiteConfig, SiteConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| SiteConfigError::Unreadable {
            origin: origin.clone(),
            message: error.to_string(),
        })?;
        let base = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        LoadedSiteConfig::parse(&origin, &text, base)
    }

    /// Checks `text`, the file `origin`; relative paths in it are taken from `base`.
    pub fn parse(
        origin: &str,
        text: &str,
        base: &Path,
    ) -> Result<LoadedSiteConfig, SiteConfigError> {
        let mut config: SiteConfig = toml::from_str(text).map_err(|error| {
            let offset = error.span().map(|span| span.start).unwrap_or(0);
            let length = error.span().map(|span| span.len().max(1));
            let message = error.message().trim().to_string();
            invalid(Location::at(origin, text, offset, length), message)
        })?;
        let loaded = LoadedSiteConfig {
            origin: origin.to_string(),
            text: text.to_string(),
            config: SiteConfig::default(),
            timeout: None,
            require: None,
        };
        let timeout = match &config.scan.timeout {
            None => None,
            Some(value) => Some(Timeout::parse(value).map_err(|why| {
                loaded.error_at_value("timeout", value, format!("timeout: {why}"))
            })?),
        };
        let require = match &config.scan.require {
            None => None,
            Some(words) => Some(
                words
                    .iter()
                    .map(|word| {
                        Requirement::parse(word).map_err(|why| {
                            loaded.error_at_value("require", word, format!("require: {why}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        if config.scan.jobs == Some(0) {
            return Err(loaded.error_at_key("jobs", "jobs must be at least 1"));
        }
        if config
            .scan
            .profile
            .as_deref()
            .is_some_and(|profile| profile.trim().is_empty())
        {
            return Err(loaded.error_at_key("profile", "profile must name a profile, such as cis"));
        }
        if let Some(name) = config.params.keys().find(|name| name.trim().is_empty()) {
            return Err(loaded.error_at_key(name, "a [params] key must not be empty"));
        }
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        config.report.waivers.iter_mut().for_each(resolve);
        config.report.baseline.iter_mut().for_each(resolve);
        config.rules.dirs.iter_mut().flatten().for_each(resolve);
        Ok(LoadedSiteConfig {
            config,
            timeout,
            require,
            ..loaded
        })
    }

    /// An error pointing at the first place `key` is written as a key in the file (bare or
    /// quoted), or at its start when it is not found.
    pub fn error_at_key(&self, key: &str, message: impl Into<String>) -> SiteConfigError {
        let offset = find_key(&self.text, key);
        let length = offset.map(|_| key.len() + 2);
        invalid(
            Location::at(&self.origin, &self.text, offset.unwrap_or(0), length),
            message,
        )
    }

    /// An error pointing at `value` written after `key`.
    fn error_at_value(&self, key: &str, value: &str, message: String) -> SiteConfigError {
        let after = find_key(&self.text, key).unwrap_or(0);
        let offset = self.text[after..]
            .find(value)
            .map(|at| after + at)
            .unwrap_or(after);
        invalid(
            Location::at(&self.origin, &self.text, offset, Some(value.len().max(1))),
            message,
        )
    }
}

/// Where `key` is written as a key: at the start of a line, bare or quoted, before `=`.
fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        for written in [format!("\"{key}\""), format!("'{key}'"), key.to_string()] {
            if let Some(rest) = trimmed.strip_prefix(&written) {
                if rest.trim_start().starts_with('=') {
                    return Some(offset + indent);
                }
            }
        }
        offset += line.len();
    }
    None
}

fn invalid(location: Location, message: impl Into<String>) -> SiteConfigError {
    SiteConfigError::Invalid {
        origin: location.origin,
        line: location.line,
        column: location.column,
        message: message.into(),
        source_code: location.source_code,
        span: location.span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadedSiteConfig, SiteConfigError> {
        LoadedSiteConfig::parse("site/hiveward.toml", text, Path::new("site"))
    }

    #[test]
    fn every_table_is_read_and_relative_paths_follow_the_file() {
        let loaded = parse(
            r#"
[report]
format = "sarif"
fail_on = "never"
waivers = "waivers.toml"
baseline = "/abs/baseline.json"

[scan]
profile = "stig-2012"
jobs = 2
require = ["system", "log:Security"]
timeout = "10m"

[rules]
dirs = ["packs"]
only = ["severity>=high"]

[severity]
"HW-SMB1-001" = "critical"

[params]
"min_ubr.17763" = "5458"
"#,
        )
        .expect("the file is valid");
        let config = &loaded.config;
        assert_eq!(config.report.format, Some(ReportFormat::Sarif));
        assert_eq!(
            config.report.fail_on.and_then(FailOnSetting::severity),
            None
        );
        assert_eq!(
            config.report.waivers.as_deref(),
            Some(Path::new("site/waivers.toml"))
        );
        assert_eq!(
            config.report.baseline.as_deref(),
            Some(Path::new("/abs/baseline.json"))
        );
        assert_eq!(
            config.rules.dirs.as_deref(),
            Some(&[PathBuf::from("site/packs")][..])
        );
        assert_eq!(config.severity["HW-SMB1-001"], Severity::Critical);
        assert_eq!(config.params["min_ubr.17763"], "5458");
        assert_eq!(
            loaded.timeout.as_ref().map(|t| t.text.as_str()),
            Some("10m")
        );
        assert_eq!(loaded.require.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn an_unknown_key_is_refused_at_its_line() {
        let error = parse("[report]\nformat = \"json\"\nfromat = \"sarif\"\n").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("site/hiveward.toml:3:1: "), "{text}");
        assert!(text.contains("unknown field `fromat`"), "{text}");
        let error = parse("colour = \"never\"\n").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `colour`"),
            "{error}"
        );
    }

    #[test]
    fn wrong_values_are_refused_naming_the_key() {
        for (text, said) in [
            (
                "[scan]\ntimeout = \"ten minutes\"\n",
                "timeout: `ten minutes`",
            ),
            ("[scan]\nrequire = [\"registry\"]\n", "require:"),
            ("[scan]\njobs = 0\n", "jobs must be at least 1"),
            (
                "[severity]\nHW-X = \"urgent\"\n",
                "unknown variant `urgent`",
            ),
            ("[report]\nfail_on = \"hihg\"\n", "unknown variant `hihg`"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.to_string().contains(said), "{text}: {error}");
            assert!(
                error.to_string().starts_with("site/hiveward.toml:2:"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_example_of_the_documentation_is_valid_and_matches_the_schema() {
        let guide = include_str!("../../docs/configuration.md");
        let example = guide
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/configuration.md has a TOML example");
        let loaded = parse(example).expect("the example is valid");
        assert_eq!(loaded.config.severity["HW-SMB1-001"], Severity::Critical);
        let value: serde_json::Value =
            serde_json::to_value(toml::from_str::<toml::Value>(example).unwrap()).unwrap();
        let schema = crate::file_schemas::config_schema();
        let validator = jsonschema::validator_for(schema.as_value()).expect("the schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        // The schema refuses what the loader refuses.
        let typo = serde_json::json!({ "report": { "fromat": "json" } });
        assert!(!validator.is_valid(&typo));
    }

    #[test]
    fn keys_are_found_bare_or_quoted() {
        let text = "[severity]\n\"HW-A-001\" = \"low\"\nHW-B-002 = \"high\"\n";
        assert_eq!(find_key(text, "HW-A-001"), Some(11));
        assert_eq!(find_key(text, "HW-B-002"), Some(30));
        assert_eq!(find_key(text, "HW-C"), None);
    }
}
