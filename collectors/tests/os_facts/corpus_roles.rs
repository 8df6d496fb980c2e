//! Roles of the corpus SYSTEM hives.

use super::*;

#[test]
fn corpus_system_hives_take_the_role_from_product_type() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let names = [
        "dfwinreg/SYSTEM",
        "regipy/SYSTEM",
        "regipy/SYSTEM_2",
        "regipy/SYSTEM_WIN_10_1709",
    ];
    let mut present = 0;
    let mut checked = 0;
    for name in names {
        let path = corpus.join("hives").join(name);
        if !path.is_file() {
            println!("skipped: {} is not in the corpus", path.display());
            continue;
        }
        present += 1;
        let bytes = std::fs::read(&path).expect("corpus file reads");
        let mut registry = HostRegistry::new();
        registry.add(RegistrySource::Hive(
            HiveFile::from_bytes(&path, bytes.clone(), &[]).expect("corpus hive opens"),
        ));
        // The registry resolves CurrentControlSet through Select; read the same set directly.
        let chosen = registry
            .control_set()
            .map_or_else(|| "ControlSet001".to_string(), |choice| choice.name.clone());
        let direct_hive = HiveFile::from_bytes(&path, bytes, &[]).expect("corpus hive opens");
        let direct = direct_hive
            .value(
                &[chosen.as_str(), "Control", "ProductOptions"],
                "ProductType",
            )
            .expect("ProductType reads")
            .and_then(|value| value.as_str().map(str::to_string));
        let facts = read_os_facts(&registry).expect("corpus hive reads");
        // A SYSTEM hive holds no servicing packages, and reading them must not fail.
        assert!(read_hotfixes(&registry).expect("reads").packages.is_empty());
        let Some(direct) = direct else {
            println!("{name}: no ProductType in {chosen}");
            continue;
        };
        let facts = facts.unwrap_or_else(|| panic!("{name}: ProductType present but no facts"));
        println!(
            "{name}: ProductType {direct:?} in {chosen}, role {:?}",
            facts.role
        );
        assert_eq!(
            facts.product_type.as_deref(),
            Some(direct.as_str()),
            "{name}"
        );
        let expected = Role::from_product_type(&direct).unwrap_or(Role::Unknown);
        assert_eq!(facts.role, expected, "{name}");
        if expected != Role::Unknown {
            assert_eq!(to_json(&facts)["role_basis"], "product_type", "{name}");
        }
        assert_eq!(
            facts
                .sources
                .iter()
                .find(|source| source.fact == "ProductType")
                .map(|source| source.path.clone()),
            Some(format!(r"HKLM\SYSTEM\{chosen}\Control\ProductOptions")),
            "{name}"
        );
        checked += 1;
    }
    println!("checked {checked} of {present} corpus SYSTEM hives");
    if present > 0 {
        assert!(checked > 0, "no corpus SYSTEM hive had a ProductType");
    }
}
