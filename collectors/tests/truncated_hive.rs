//! A hive cut short is read as far as it goes: every read that finds its cells in the part
//! present gives what the whole file gives, and every read that needs a cell past the end fails
//! as damage that says the file is truncated. No read of a truncated copy turns a key or value
//! that the whole file holds into an absent one.
//!
//! Where a cut falls depends on where the writer put each cell. regf lays a fixture's lists out
//! after its key nodes, so a fixture cut anywhere loses the root key's subkey list; the reads of
//! a partly present hive are therefore checked on the corpus's real SYSTEM hives, laid out by
//! Windows.

use std::path::{Path, PathBuf};

use hiveward_collectors::{
    EvidenceError, HiveFile, HiveKind, HiveState, RegValue, TransactionLogInput,
    TRUNCATED_HIVE_CODE,
};
use hiveward_testkit::hive_from_reg;

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";

/// What one read gave: the subkeys and values of a key, or one value.
#[derive(Debug, PartialEq)]
enum Read {
    Key(Option<(Vec<String>, Vec<RegValue>)>),
    Value(Option<RegValue>),
}

fn read(hive: &HiveFile, key: &[String], value: Option<&str>) -> Result<Read, EvidenceError> {
    let parts: Vec<&str> = key.iter().map(String::as_str).collect();
    match value {
        Some(name) => hive.value(&parts, name).map(Read::Value),
        None => {
            let subkeys = hive.subkeys(&parts)?;
            let values = hive.values(&parts)?;
            Ok(Read::Key(subkeys.zip(values)))
        }
    }
}

/// Every `stride`-th key of `hive` down to `depth` levels, depth first, and the reads to
/// compare on each: its content, each of its values by name, and a value name it lacks.
fn sampled_reads(
    hive: &HiveFile,
    depth: usize,
    stride: usize,
) -> Vec<(Vec<String>, Option<String>)> {
    fn walk(hive: &HiveFile, path: &mut Vec<String>, depth: usize, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        if path.len() == depth {
            return;
        }
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        for name in hive
            .subkeys(&parts)
            .expect("the whole hive reads")
            .expect("key")
        {
            path.push(name);
            walk(hive, path, depth, out);
            path.pop();
        }
    }
    let mut keys = Vec::new();
    walk(hive, &mut Vec::new(), depth, &mut keys);
    let mut reads = Vec::new();
    for key in keys.into_iter().step_by(stride) {
        let parts: Vec<&str> = key.iter().map(String::as_str).collect();
        for value in hive.values(&parts).unwrap().unwrap() {
            reads.push((key.clone(), Some(value.name)));
        }
        reads.push((key.clone(), Some("NotThere".to_string())));
        reads.push((key, None));
    }
    reads.push((
        vec![
            "ControlSet001".into(),
            "Services".into(),
            "NoSuchService".into(),
        ],
        None,
    ));
    reads
}

#[test]
fn every_read_of_a_truncated_copy_is_the_whole_files_answer_or_damage() {
    let Some(path) = corpus_regipy_hive("SYSTEM") else {
        println!("skipped: no corpus");
        return;
    };
    let bytes = std::fs::read(&path).expect("the corpus hive reads");
    let whole = HiveFile::from_bytes(&path, bytes.clone(), &[]).expect("the whole hive opens");
    assert_eq!(whole.truncation(), None);
    let reads = sampled_reads(&whole, 4, 7);
    let expected: Vec<Read> = reads
        .iter()
        .map(|(key, value)| read(&whole, key, value.as_deref()).expect("the whole hive reads"))
        .collect();
    let name = path.display().to_string();

    let (mut refused, mut partly, mut judged, mut damaged) = (0, 0, 0, 0);
    // 40 cuts spread over the file, none on a page boundary.
    let step = (bytes.len() - 4096) / 40 + 7;
    for cut in (4096 + 8..bytes.len()).step_by(step) {
        let hive = match HiveFile::from_bytes(&path, bytes[..cut].to_vec(), &[]) {
            Ok(hive) => hive,
            Err(error) => {
                // Refused only when not even the root key's subkeys lie in the part present.
                assert_eq!(error.code_name(), TRUNCATED_HIVE_CODE, "cut {cut}: {error}");
                refused += 1;
                continue;
            }
        };
        assert_eq!(hive.kind(), HiveKind::System, "cut {cut}");
        let cut_at = hive.truncation().expect("a short file is marked truncated");
        assert_eq!(cut_at.available, cut as u64);
        assert_eq!(cut_at.declared, bytes.len() as u64);
        assert!(
            hive.notices()
                .iter()
                .any(|notice| notice.code == TRUNCATED_HIVE_CODE && notice.message.contains(&name)),
            "cut {cut}: {:?}",
            hive.notices()
        );
        partly += 1;
        for ((key, value), whole_answer) in reads.iter().zip(&expected) {
            match read(&hive, key, value.as_deref()) {
                Ok(found) => {
                    assert_eq!(
                        &found,
                        whole_answer,
                        "cut {cut}: {} {value:?} differs from the whole file",
                        key.join("\\")
                    );
                    judged += 1;
                }
                Err(error) => {
                    let message = error.to_string();
                    assert!(
                        message.contains(&name)
                            && message.contains(&format!(
                                "the file is truncated: it ends at byte {cut} "
                            )),
                        "cut {cut}: {message}"
                    );
                    damaged += 1;
                }
            }
        }
    }
    println!(
        "{refused} cuts refused, {partly} read in part: {judged} reads answered, {damaged} damaged"
    );
    assert!(partly >= 30, "{refused} refused, {partly} read in part");
    assert!(
        judged > 1_000 && damaged > 1_000,
        "{judged} answered, {damaged} damaged"
    );
}

#[test]
fn a_dirty_truncated_primary_stays_marked_truncated_after_recovery() {
    let Some(path) = corpus_regipy_hive("SYSTEM_B") else {
        println!("skipped: no corpus");
        return;
    };
    let bytes = std::fs::read(&path).expect("the corpus hive reads");
    let logs: Vec<TransactionLogInput> = ["SYSTEM_B.LOG1", "SYSTEM_B.LOG2"]
        .into_iter()
        .map(|name| {
            let log = path.with_file_name(name);
            TransactionLogInput {
                bytes: std::fs::read(&log).expect("the log reads"),
                path: log,
            }
        })
        .collect();
    // The root key's subkey list lies near the end of this hive: a cut past it.
    let cut = bytes.len() * 95 / 100;
    let hive = HiveFile::from_bytes(&path, bytes[..cut].to_vec(), &logs)
        .expect("the recovered part opens");
    assert!(
        matches!(hive.state(), HiveState::Recovered { .. }),
        "{:?}",
        hive.state()
    );
    // Recovery pads the short primary; the padding must not pass for the missing part.
    assert_eq!(
        hive.truncation().map(|cut_at| cut_at.available),
        Some(cut as u64)
    );
    assert!(hive
        .notices()
        .iter()
        .any(|notice| notice.code == TRUNCATED_HIVE_CODE
            && notice
                .message
                .contains("with the pages its transaction logs supply")));
}

#[test]
fn a_file_cut_before_its_root_keys_subkeys_is_refused_as_truncated() {
    let bytes = hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"FS01\"\r\n"
    ));
    let whole = HiveFile::from_bytes(Path::new("STUB"), bytes.clone(), &[]).expect("opens");
    assert_eq!(whole.kind(), HiveKind::System);
    for cut in [4096 + 16, 4096 + 512] {
        let error = HiveFile::from_bytes(Path::new("STUB"), bytes[..cut].to_vec(), &[])
            .expect_err("the root key's subkeys are past the cut");
        assert_eq!(error.code_name(), TRUNCATED_HIVE_CODE);
        assert!(
            error
                .to_string()
                .contains(&format!("but the file has {cut}")),
            "{error}"
        );
    }
}

/// A hive of the corpus's regipy folder, or `None` when the corpus is absent.
fn corpus_regipy_hive(name: &str) -> Option<PathBuf> {
    hiveward_testkit::corpus_file(&format!("hives/regipy/{name}"))
}
