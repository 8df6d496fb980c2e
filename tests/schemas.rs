//! The committed JSON Schemas equal the ones generated from the output model.
//!
//! After changing the model, regenerate with `HIVEWARD_UPDATE_SCHEMAS=1 cargo test --test schemas`.

use std::path::Path;

fn check(name: &str, schema: schemars::Schema) {
    let generated = serde_json::to_string_pretty(&schema).expect("schema serialises") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    if std::env::var("HIVEWARD_UPDATE_SCHEMAS").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).expect("schema file is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(
        committed == generated,
        "{} is stale; regenerate with HIVEWARD_UPDATE_SCHEMAS=1 cargo test --test schemas",
        path.display()
    );
}

#[test]
fn inspect_schema_is_current() {
    check("inspect.schema.json", hiveward_engine::inspect_schema());
}

#[test]
fn rule_schema_is_current() {
    check("rule.schema.json", hiveward_engine::rule_schema());
}

#[test]
fn findings_schema_is_current() {
    check("findings.schema.json", hiveward_engine::findings_schema());
}

#[test]
fn pack_manifest_schema_is_current() {
    check("pack.schema.json", hiveward_engine::pack_schema());
}

#[test]
fn waivers_schema_is_current() {
    check("waivers.schema.json", hiveward_engine::waivers_schema());
}

#[test]
fn rule_test_file_schema_is_current() {
    check("tests.schema.json", hiveward_engine::tests_file_schema());
}

#[test]
fn config_schema_is_current() {
    check("config.schema.json", hiveward_engine::config_schema());
}
