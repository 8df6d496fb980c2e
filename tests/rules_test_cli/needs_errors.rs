//! A wrong field inside `needs` is reported where it is.

use super::*;

/// The `file:line:column` prefix and message of the load error for a rule whose `needs` is
/// `needs`, written on line 7.
fn needs_error(needs: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-NEEDS-001";
    write_pack(
        dir.path(),
        &[(id, spooler_rule(id, needs, false), spooler_cases(id))],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(2);
    run.stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("× "))
        .unwrap_or_else(|| panic!("no error line:\n{}", run.stderr))
        .to_string()
}

#[test]
fn a_wrong_field_inside_needs_is_reported_at_that_field() {
    let file = Path::new(PACK)
        .join("E2E-NEEDS-001.rhai")
        .display()
        .to_string();
    // `    needs: ` is 11 characters: the map opens at column 12.
    for (needs, column, message) in [
        (
            r#"#{ events: [#{ channel: "System", id: 7036 }] }"#,
            46,
            "needs.events[0].id: unknown field `id`, expected one of `channel`, `ids`, `provider` (event ids are a list here: `ids: [7036]`)",
        ),
        (
            r#"#{ hives: ["SYSTEM"], event: [#{ channel: "System" }] }"#,
            34,
            "needs.event: unknown field `event`, expected one of `hives`, `keys`, `events`, `any` (did you mean `events`?)",
        ),
        (
            r#"#{ events: [#{ channel: "System", ids: [7036, "7040"] }] }"#,
            58,
            "needs.events[0].ids[1]: an event id must be an integer from 0 to 4294967295, not a string",
        ),
        (
            r#"#{ any: [#{ hives: ["SYSTEM"] }, #{ hives: ["SYSTM"] }] }"#,
            56,
            "needs.any[1].hives[0]: unknown variant `SYSTM`, expected one of `SYSTEM`, `SOFTWARE`, `HKCU`, `SAM`, `SECURITY`",
        ),
        (
            r#"#{ events: [#{ ids: [7036] }] }"#,
            24,
            "needs.events[0]: missing field `channel`",
        ),
    ] {
        assert_eq!(
            needs_error(needs),
            format!("{file}:7:{column}: invalid RULE metadata: {message}"),
            "needs: {needs}"
        );
    }
}
