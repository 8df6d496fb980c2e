//! Regenerates `examples/bundle/` from the `.reg` sources in `examples/bundle-src/`.
//!
//! `NAME.reg` becomes the hive `NAME.HIV`, as `REG SAVE` would write it; `NAME.export.reg`
//! becomes `NAME.reg` in UTF-16LE, as `reg export` writes it. Every timestamp in the hives (the
//! base block's, each bin's and each key's LastWriteTime) is pinned to [`PINNED_TIME`], so the
//! same sources always give the same bytes.
//!
//! Run from the workspace root: `cargo run -p hiveward-testkit --bin make-sample-bundle`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hiveward_testkit::SAMPLE_BUNDLE_TIME as PINNED_TIME;

fn main() -> ExitCode {
    let root = hiveward_testkit::workspace_root();
    let sources = root.join("examples/bundle-src");
    let target = root.join("examples/bundle");
    match regenerate(&sources, &target) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn regenerate(sources: &Path, target: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(target)?;
    let mut written = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(sources)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for source in entries {
        let Some(name) = source.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".reg") else {
            continue;
        };
        let text = std::fs::read_to_string(&source)?;
        let (path, bytes) = match stem.strip_suffix(".export") {
            Some(export) => (
                target.join(format!("{export}.reg")),
                hiveward_testkit::utf16_reg_export(&text),
            ),
            None => {
                let mut hive = hiveward_testkit::hive_from_reg(&text);
                hiveward_testkit::pin_hive_times(&mut hive, PINNED_TIME);
                (target.join(format!("{stem}.HIV")), hive)
            }
        };
        std::fs::write(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}
