//! Discovery reads the first bytes of many files at once: what it finds is the same whatever
//! the size of the rayon pool it runs on.

use std::path::{Path, PathBuf};

use hiveward_collectors::{discover, DiscoverOptions, Discovery, FileKind};

/// The first bytes of a `regf` file of `file_type` (0: a hive, 1 or 6: a transaction log).
fn regf(file_type: u32) -> Vec<u8> {
    let mut bytes = vec![0u8; 4096];
    bytes[..4].copy_from_slice(b"regf");
    bytes[0x1c..0x20].copy_from_slice(&file_type.to_le_bytes());
    bytes
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A bundle of `hosts` folders in the layouts discovery knows, with transaction logs, logs,
/// exports, and files it passes over.
fn bundle(root: &Path, hosts: usize) {
    for n in 0..hosts {
        let host = root.join(format!("h{n:03}"));
        match n % 4 {
            // One folder per host, with a dirty SYSTEM hive and its logs.
            0 => {
                write(&host.join("SYSTEM"), &regf(0));
                write(&host.join("SYSTEM.LOG1"), &regf(6));
                write(&host.join("system.log2"), &regf(6));
                write(&host.join("SOFTWARE"), &regf(0));
                write(&host.join("notes.txt"), b"collected by hand");
            }
            // Flat `REG SAVE` files of two hosts, and a `.reg` export.
            1 => {
                write(&host.join(format!("PC{n}_SYSTEM.HIV")), &regf(0));
                write(&host.join(format!("PC{n}b_SYSTEM.HIV")), &regf(0));
                write(
                    &host.join(format!("PC{n}_lanman.reg")),
                    b"Windows Registry Editor Version 5.00\r\n",
                );
            }
            // A triage tree with an event log, and a log of no hive.
            2 => {
                let config = host.join("C/Windows/System32/config");
                write(&config.join("SYSTEM"), &regf(0));
                write(&config.join("SAM.LOG1"), &regf(1));
                write(
                    &host.join("C/Windows/System32/winevt/Logs/Security.evtx"),
                    b"ElfFile\0",
                );
                write(&host.join("C/Users/bob/NTUSER.DAT"), &regf(0));
            }
            // An empty hive, named like one, and an empty file that is not.
            _ => {
                write(&host.join("SYSTEM"), b"");
                write(&host.join("empty.bin"), b"");
            }
        }
    }
}

fn discover_in_pool(inputs: &[PathBuf], threads: usize) -> Discovery {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| discover(inputs, &DiscoverOptions::default()))
}

#[test]
fn discovery_is_the_same_whatever_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    bundle(dir.path(), 120);
    let inputs = vec![dir.path().to_path_buf()];
    let single = discover_in_pool(&inputs, 1);
    for threads in [2, 3, 8] {
        assert_eq!(
            discover_in_pool(&inputs, threads),
            single,
            "{threads} threads"
        );
    }
    // Outside any pool too.
    assert_eq!(discover(&inputs, &DiscoverOptions::default()), single);

    // What was found: every host, files in order, logs with their hives.
    let groups = &single.groups;
    assert!(groups
        .windows(2)
        .all(|pair| pair[0].files[0].path < pair[1].files[0].path));
    assert!(groups.iter().all(|group| group
        .files
        .windows(2)
        .all(|pair| pair[0].path < pair[1].path)));
    let system = groups
        .iter()
        .flat_map(|group| &group.files)
        .find(|file| file.path.ends_with("h000/SYSTEM"))
        .unwrap();
    assert_eq!(system.kind, FileKind::Hive);
    let logs: Vec<&str> = system
        .logs
        .iter()
        .map(|log| log.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(logs, ["SYSTEM.LOG1", "system.log2"]);
    let passed = |name: &str| {
        single
            .passed_over
            .iter()
            .filter(|passed| passed.path.ends_with(name))
            .count()
    };
    assert_eq!(passed("notes.txt"), 30);
    assert_eq!(passed("empty.bin"), 30);
    assert_eq!(passed("SAM.LOG1"), 30);
    // Empty files named like hives are kept, as unreadable evidence.
    let empty_hives = groups
        .iter()
        .flat_map(|group| &group.files)
        .filter(|file| file.kind == FileKind::Empty)
        .count();
    assert_eq!(empty_hives, 30);
}

#[test]
fn a_log_belongs_to_the_first_hive_of_its_name_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("FS01");
    write(&host.join("SYSTEM"), &regf(0));
    write(&host.join("SyStEm.LOG1"), &regf(6));
    write(&host.join("other/SYSTEM.LOG2"), &regf(6));
    // A second hive whose name differs only in case, where the file system allows it.
    let both = std::fs::write(host.join("system"), regf(0)).is_ok()
        && std::fs::read_dir(&host).unwrap().count() == 4;
    let found = discover_in_pool(&[dir.path().to_path_buf()], 2);
    let files: Vec<_> = found.groups.iter().flat_map(|group| &group.files).collect();
    let first = files
        .iter()
        .find(|file| file.path.ends_with("SYSTEM"))
        .unwrap();
    assert_eq!(first.logs, [host.join("SyStEm.LOG1")]);
    if both {
        let second = files
            .iter()
            .find(|file| file.path.ends_with("system"))
            .unwrap();
        assert!(second.logs.is_empty());
    }
    assert_eq!(found.passed_over.len(), 1);
    assert!(found.passed_over[0].path.ends_with("other/SYSTEM.LOG2"));
}
