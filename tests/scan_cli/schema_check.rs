//! A structural check of the JSON report against the committed JSON Schema.

use super::*;

/// The schema keywords `validate` understands; anything else in the schema fails the test, so a
/// new construct cannot slip through unchecked.
const KNOWN_KEYWORDS: [&str; 16] = [
    "$schema",
    "$defs",
    "$ref",
    "title",
    "description",
    "format",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "const",
    "enum",
    "oneOf",
    "anyOf",
    "minimum",
];

fn findings_schema() -> Value {
    let path = root().join("schemas/findings.schema.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    serde_json::from_str(&text).expect("the findings schema is JSON")
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unknown JSON Schema type {other:?}"),
    }
}

/// Checks `value` against `schema` (a subset of JSON Schema: enough for what schemars writes),
/// pushing one message per violation onto `errors`.
fn validate(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let object = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errors.push(format!("{at}: the schema allows nothing here"));
            return;
        }
        Value::Object(object) => object,
        other => panic!("{at}: a schema must be an object or a boolean, not {other}"),
    };
    for keyword in object.keys() {
        assert!(
            KNOWN_KEYWORDS.contains(&keyword.as_str()),
            "{at}: the schema uses `{keyword}`, which this test does not check; extend `validate`"
        );
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("{at}: unsupported $ref {reference}"));
        let target = &root["$defs"][name];
        assert!(
            !target.is_null(),
            "{at}: $ref to a missing definition {name}"
        );
        validate(root, target, value, at, errors);
    }
    if let Some(kind) = object.get("type") {
        let names: Vec<&str> = match kind {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            other => panic!("{at}: unsupported type {other}"),
        };
        if !names.iter().any(|name| type_matches(name, value)) {
            errors.push(format!("{at}: {value} is not of type {names:?}"));
            return;
        }
    }
    if let Some(expected) = object.get("const") {
        if value != expected {
            errors.push(format!("{at}: {value} is not the constant {expected}"));
        }
    }
    if let Some(Value::Array(allowed)) = object.get("enum") {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(minimum), Some(number)) = (
        object.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if number < minimum {
            errors.push(format!("{at}: {number} is below the minimum {minimum}"));
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(Value::Array(options)) = object.get(keyword) {
            let matching = options
                .iter()
                .filter(|option| {
                    let mut scratch = Vec::new();
                    validate(root, option, value, at, &mut scratch);
                    scratch.is_empty()
                })
                .count();
            let ok = if exactly_one {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                errors.push(format!(
                    "{at}: {value} matches {matching} of the {keyword} alternatives"
                ));
            }
        }
    }
    if let Value::Object(map) = value {
        if let Some(Value::Array(required)) = object.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    errors.push(format!("{at}: the required key `{key}` is missing"));
                }
            }
        }
        let properties = object.get("properties").and_then(Value::as_object);
        for (key, item) in map {
            let path = format!("{at}.{key}");
            match properties.and_then(|properties| properties.get(key)) {
                Some(property) => validate(root, property, item, &path, errors),
                None => {
                    if let Some(additional) = object.get("additionalProperties") {
                        validate(root, additional, item, &path, errors);
                    } else if properties.is_some() && !object.contains_key("$ref") {
                        errors.push(format!("{path}: not described by the schema"));
                    }
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, object.get("items")) {
        for (index, item) in items.iter().enumerate() {
            validate(root, item_schema, item, &format!("{at}[{index}]"), errors);
        }
    }
}

/// Asserts that `report` has every key the schema's top level requires, with the declared
/// types, and that it validates against the whole schema.
pub(super) fn assert_matches_schema(report: &Value) {
    let schema = findings_schema();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .expect("the schema has a top-level `required` list")
        .iter()
        .map(|key| key.as_str().unwrap())
        .collect();
    assert!(
        required.len() >= 10,
        "the schema requires only {required:?}"
    );
    let object = report.as_object().expect("the report is a JSON object");
    for key in &required {
        assert!(object.contains_key(*key), "the report lacks `{key}`");
    }
    for key in object.keys() {
        assert!(
            schema["properties"].get(key).is_some(),
            "the report has `{key}`, which the schema does not describe"
        );
    }
    for (key, expected) in [
        ("tool", "object"),
        ("inputs", "array"),
        ("profile", "string"),
        ("params", "object"),
        ("rules", "array"),
        ("hosts", "array"),
        ("passed_over", "array"),
        ("findings", "array"),
        ("rule_errors", "array"),
        ("counts", "object"),
        ("summary", "object"),
    ] {
        if required.contains(&key) {
            assert!(
                type_matches(expected, &report[key]),
                "`{key}` is not a JSON {expected}: {}",
                report[key]
            );
        }
    }
    let mut errors = Vec::new();
    validate(&schema, &schema, report, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "the report does not match schemas/findings.schema.json:\n{}",
        errors.join("\n")
    );
}

/// The checker above is only worth something if it rejects reports that break the schema.
#[test]
fn the_schema_check_rejects_broken_reports() {
    let run = scan_bundle_json(&[]);
    run.assert_code(0);
    let report = run.json();
    let schema = findings_schema();
    let errors_of = |broken: &Value| {
        let mut errors = Vec::new();
        validate(&schema, &schema, broken, "$", &mut errors);
        errors
    };
    assert!(errors_of(&report).is_empty());

    let mut missing = report.clone();
    missing.as_object_mut().unwrap().remove("summary");
    assert!(errors_of(&missing)
        .iter()
        .any(|error| error.contains("`summary`")));

    let mut severity = report.clone();
    severity["findings"][0]["severity"] = Value::from("severe");
    assert!(!errors_of(&severity).is_empty());

    let mut count = report.clone();
    count["summary"]["findings"] = Value::from("two");
    assert!(!errors_of(&count).is_empty());

    let mut evidence = report;
    evidence["findings"][1]["evidence"][0]
        .as_object_mut()
        .unwrap()
        .remove("default_applied");
    assert!(errors_of(&evidence)
        .iter()
        .any(|error| error.contains("default_applied")));
}
