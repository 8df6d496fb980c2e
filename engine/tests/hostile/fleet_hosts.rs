//! Defect 14 (a): fleet rules may name only the bundle's hosts.

use super::*;

#[test]
fn a_fleet_rule_naming_a_host_outside_the_bundle_is_a_rule_error() {
    let body = "fn summarize(host) { () }\nfn check(fleet) {\n    [#{ host: \"GHOST\", message: \"credited to nobody here\" }, #{ host: \"fs01\", message: \"real\" }, not_applicable(\"NOPE\", \"why\")]\n}";
    let text = rule("T-FLEET-001", ", scope: \"fleet\"", body);
    let rules = load_with(
        vec![pack("p", &[("T-FLEET-001", &text)])],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[host("FS01"), host("WS02")]);
    let findings: Vec<(&str, &str)> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.host.as_str(), finding.message.as_str()))
        .collect();
    assert_eq!(
        findings,
        [("FS01", "real")],
        "the bundle's spelling, the stray left out"
    );
    let errors: Vec<(&str, &str)> = evaluation
        .rule_errors
        .iter()
        .map(|error| (error.host.as_str(), error.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (stray, (host, message)) in ["GHOST", "NOPE"].iter().zip(&errors) {
        assert_eq!(*host, "*");
        assert!(
            message.contains(&format!("host `{stray}`, which is not in the bundle")),
            "{message}"
        );
    }
}
