//! Reads a file that overlapping inputs reach twice once: `x.evtx` and `./x.evtx`, a folder
//! given as `.` and by its absolute path, or a folder and a file inside it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::PassedOver;

/// Keeps, of the paths in `found` (sorted) that name the same place once each input is
/// resolved (its symbolic links, `.` and `..`), the first, and passes over the others, naming
/// the path kept. Only the inputs are resolved, not the links a walk with `--follow-links`
/// meets inside them: a link into another host's folder is a layout the user chose. Hard links
/// are separate paths of one file and stay. One input cannot overlap itself, so a scan of one
/// folder pays nothing for this.
pub(super) fn drop_repeated_files<K>(
    found: &mut Vec<(PathBuf, K)>,
    inputs: &[PathBuf],
    passed_over: &mut Vec<PassedOver>,
) {
    if inputs.len() < 2 || found.len() < 2 {
        return;
    }
    // Each input with where it resolves to; one that cannot be resolved is kept as given.
    let resolved: Vec<(&Path, PathBuf)> = inputs
        .iter()
        .map(|input| {
            let place = std::fs::canonicalize(input).unwrap_or_else(|_| input.clone());
            (input.as_path(), place)
        })
        .collect();
    let place_of = |path: &Path| -> PathBuf {
        resolved
            .iter()
            .find_map(|(input, place)| {
                let rest = path.strip_prefix(input).ok()?;
                Some(if rest.as_os_str().is_empty() {
                    place.clone()
                } else {
                    place.join(rest)
                })
            })
            .unwrap_or_else(|| path.to_path_buf())
    };
    let mut first_at: HashMap<PathBuf, PathBuf> = HashMap::with_capacity(found.len());
    found.retain(|(path, _)| {
        let place = place_of(path);
        match first_at.get(&place) {
            None => {
                first_at.insert(place, path.clone());
                true
            }
            Some(kept) => {
                passed_over.push(PassedOver {
                    path: crate::path_text(path),
                    reason: format!(
                        "the same file as {}, which is read instead (the inputs reach it by two paths)",
                        crate::path_text(kept)
                    ),
                });
                false
            }
        }
    });
}
