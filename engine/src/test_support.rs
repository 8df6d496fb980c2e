//! Report builders the reporters' tests start from: the sample bundle's report, and copies of
//! its hosts that make a fleet large enough to spill its spools.

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};

use crate::pack::PackSource;
use crate::ruleset::RuleSet;
use crate::sandbox::Limits;
use crate::scan::{run_scan, ScanHost, ScanReport, ScanSettings};

/// The sample bundle (`examples/bundle`) scanned with the built-in packs.
pub fn sample_bundle_report() -> ScanReport {
    let bundle = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/bundle");
    let rules = RuleSet::load(PackSource::builtin(), Limits::default()).expect("packs load");
    let collection = collect(
        discover(&[bundle], &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    run_scan(collection, &rules, &ScanSettings::default())
}

/// Replaces the hosts and findings of `report` by `copies` copies of each, the host of copy
/// N named `HOST-N`, every one spooled afresh.
pub fn copy_hosts(report: &mut ScanReport, copies: usize) {
    let hosts: Vec<ScanHost> = report.hosts.stream().collect();
    let findings: Vec<crate::finding::Finding> = report.findings.stream().collect();
    assert!(!findings.is_empty(), "the report has findings to copy");
    let copy = |name: &str, at: usize| format!("{name}-{at}");
    report.hosts = (0..copies)
        .flat_map(|at| {
            hosts.iter().cloned().map(move |mut host| {
                host.name = copy(&host.name, at);
                host
            })
        })
        .collect();
    report.findings = (0..copies)
        .flat_map(|at| {
            findings.iter().cloned().map(move |mut finding| {
                finding.host = copy(&finding.host, at);
                finding
            })
        })
        .collect();
}
