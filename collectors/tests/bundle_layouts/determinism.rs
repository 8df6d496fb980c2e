//! Determinism across runs and input order.

use super::*;

/// A bundle mixing every layout, for the order tests.
fn mixed_bundle(root: &Path) -> Vec<PathBuf> {
    let flat = root.join("flat");
    write(
        &flat.join("FS01_SYSTEM.HIV"),
        &system_hive(Some("FILESRV01")),
    );
    write(&flat.join("FS01_HKCU.HIV"), &hkcu_software_hive("x"));
    write(&flat.join("PC7_HKCU.HIV"), &hkcu_software_hive("y"));
    write(&flat.join("zz.txt"), b"not evidence");
    let hosts = root.join("hosts");
    write(&hosts.join("beta/SYSTEM"), &system_hive(None));
    write(
        &hosts.join("alpha/SOFTWARE"),
        &software_hive("Windows 11 Pro"),
    );
    write(&hosts.join("alpha/SYSTEM"), &system_hive(Some("ALPHA")));
    let corpus = root.join("corpus");
    write(&corpus.join("SYSTEM_1"), &system_hive(Some("SAME")));
    write(&corpus.join("SYSTEM_2"), &system_hive(Some("SAME")));
    write(&corpus.join("SYSTEM_3"), &system_hive(None));
    let case = root.join("case/HOSTA/C");
    write(
        &case.join("Windows/System32/config/SYSTEM"),
        &system_hive(Some("WKS-0042")),
    );
    write(
        &case.join("Windows/System32/config/SYSTEM.LOG1"),
        &new_format_log(),
    );
    write(&case.join("Users/bob/NTUSER.DAT"), &ntuser_hive("bob"));
    vec![flat, hosts, corpus, root.join("case")]
}

/// Host names with their files, in order, with the temporary folder cut off.
fn layout_summary(collection: &Collection, root: &Path) -> Vec<(String, NameSource, Vec<String>)> {
    let relative = |path: &str| {
        Path::new(path)
            .strip_prefix(root)
            .unwrap_or_else(|_| panic!("{path} is outside {}", root.display()))
            .display()
            .to_string()
    };
    collection
        .hosts
        .iter()
        .map(|host| {
            let files = host
                .files
                .iter()
                .flat_map(|file| {
                    std::iter::once(relative(&file.path))
                        .chain(file.logs.iter().map(|log| format!("log {}", relative(log))))
                })
                .collect();
            (host.name.clone(), host.name_source, files)
        })
        .collect()
}

#[test]
fn discovery_is_deterministic_across_runs_and_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = mixed_bundle(dir.path());
    let options = DiscoverOptions::default();

    let first: Discovery = discover(&inputs, &options);
    let second = discover(&inputs, &options);
    assert_eq!(first, second);
    let mut reversed_inputs = inputs.clone();
    reversed_inputs.reverse();
    let reversed = discover(&reversed_inputs, &options);
    assert_eq!(first, reversed);
    // The same files reached twice (a folder and a file inside it) are read once.
    let mut overlapping = reversed_inputs.clone();
    overlapping.push(inputs[0].join("FS01_SYSTEM.HIV"));
    overlapping.push(inputs[1].clone());
    assert_eq!(first, discover(&overlapping, &options));

    let expected = layout_summary(&collect(first, &CollectOptions::default()), dir.path());
    let names: Vec<&str> = expected.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(names.len(), 8, "{expected:#?}");
    for name in ["ALPHA", "FILESRV01", "PC7", "SYSTEM_3", "beta", "WKS-0042"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(
        names
            .iter()
            .filter(|name| name.to_ascii_uppercase().starts_with("SAME"))
            .count(),
        2
    );
    let mut sorted = names.clone();
    sorted.sort_by_key(|name| name.to_lowercase());
    assert_eq!(names, sorted, "hosts are sorted by name");

    for inputs in [&inputs, &reversed_inputs, &overlapping] {
        for _ in 0..2 {
            let again = collect(discover(inputs, &options), &CollectOptions::default());
            assert_eq!(layout_summary(&again, dir.path()), expected, "{inputs:?}");
        }
    }
    // The whole folder as one input gives the same hosts as its parts.
    let whole = collect(
        discover(&[dir.path().to_path_buf()], &options),
        &CollectOptions::default(),
    );
    assert_eq!(layout_summary(&whole, dir.path()), expected);
}
