//! `hiveward rules definitions DIR`: writes the Rhai definition files of the rules engine into
//! DIR for the Rhai language server, rewriting only the files whose text changed.

use std::path::Path;

use hiveward_engine::{rule_definitions, EXIT_ERROR};

use crate::emit;

/// Writes every definition file into `dir` (created when missing); exits 2 when a file cannot
/// be written, naming it.
pub(crate) fn definitions(dir: &Path) -> u8 {
    if let Err(error) = std::fs::create_dir_all(dir) {
        eprintln!(
            "error: cannot create the definitions folder {}: {error}",
            dir.display()
        );
        return EXIT_ERROR;
    }
    let files = rule_definitions();
    let mut written = 0;
    for file in &files {
        let path = dir.join(&file.name);
        // An unchanged file keeps its time stamp, so editors do not reload it.
        if std::fs::read_to_string(&path).is_ok_and(|text| text == file.text) {
            continue;
        }
        if let Err(error) = std::fs::write(&path, &file.text) {
            eprintln!("error: cannot write {}: {error}", path.display());
            return EXIT_ERROR;
        }
        written += 1;
    }
    let message = format!(
        "{} definition file(s) in {} ({written} written, {} unchanged)\n",
        files.len(),
        dir.display(),
        files.len() - written
    );
    emit(message.as_bytes(), None).err().unwrap_or(0)
}
