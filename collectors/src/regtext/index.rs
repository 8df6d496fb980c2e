//! The key tree of a `.reg` export: each key path component is stored once, as a node under its
//! parent, so that finding a key, its section, its subkeys or deleting it costs time in
//! proportion to the path or the subtree, and memory in proportion to the text.
//!
//! Storing every ancestor's full path instead made a single deep key line quadratic in memory
//! (a 194 KB line took 468 MB), and finding a `[section]` among the earlier ones by scanning
//! made many sections quadratic in time.

use std::collections::HashMap;

/// The node that stands above the roots (`HKLM`, `HKCU`, ...); it is no key.
const TOP: usize = 0;

/// One key of the tree.
#[derive(Clone, Debug)]
struct Node {
    /// The component as first written.
    name: Box<str>,
    parent: usize,
    /// Child nodes in the order they were first written, removed ones included.
    children: Vec<usize>,
    /// The position of the key's own `[section]` among the export's keys, if it has one.
    section: Option<usize>,
    /// How many of `children` are not removed.
    live_children: usize,
    removed: bool,
}

/// Keys by path, compared without regard to case.
#[derive(Clone, Debug)]
pub(super) struct KeyIndex {
    nodes: Vec<Node>,
    /// `(parent, case-folded component)` to the child node.
    edges: HashMap<(usize, Box<str>), usize>,
    /// The keys `[-KEY]` lines delete, case-folded: the export says they are absent.
    deleted: Vec<Box<[Box<str>]>>,
}

/// What an export tells of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportCoverage {
    /// The key is inside what the export holds: a `[section]` of it or of one of its ancestors
    /// is written (`reg export KEY` writes every key below KEY), or a `[-KEY]` line deletes it
    /// or an ancestor. Whether it exists, its values and its subkeys are known.
    Whole,
    /// Only that the key exists: keys below it are written, it and its ancestors are not.
    /// Its values and its other subkeys are unknown.
    Ancestor,
    /// Nothing: the key is outside every key the export writes.
    Outside,
}

/// How components are compared: the same folding for every lookup and every insertion.
fn fold(component: &str) -> Box<str> {
    component.to_uppercase().into_boxed_str()
}

impl KeyIndex {
    pub(super) fn new() -> KeyIndex {
        KeyIndex {
            nodes: vec![Node {
                name: Box::from(""),
                parent: TOP,
                children: Vec::new(),
                section: None,
                live_children: 0,
                removed: false,
            }],
            edges: HashMap::new(),
            deleted: Vec::new(),
        }
    }

    /// Notes that a `[-KEY]` line deletes the key at `components`.
    pub(super) fn note_deleted(&mut self, components: &[&str]) {
        if !components.is_empty() {
            self.deleted
                .push(components.iter().map(|component| fold(component)).collect());
        }
    }

    /// What the export tells of the key at `components` (see [`ExportCoverage`]).
    pub(super) fn coverage(&self, components: &[&str]) -> ExportCoverage {
        if components.is_empty() {
            return ExportCoverage::Outside;
        }
        let folded: Vec<Box<str>> = components.iter().map(|component| fold(component)).collect();
        if self
            .deleted
            .iter()
            .any(|deleted| folded.starts_with(deleted))
        {
            return ExportCoverage::Whole;
        }
        let mut node = TOP;
        let mut inside = false;
        for component in folded {
            match self.edges.get(&(node, component)) {
                Some(&child) => {
                    node = child;
                    inside |= self.nodes[node].section.is_some();
                }
                // Absent: known to be when an ancestor's section is written.
                None if inside => return ExportCoverage::Whole,
                None => return ExportCoverage::Outside,
            }
        }
        if inside {
            ExportCoverage::Whole
        } else {
            ExportCoverage::Ancestor
        }
    }

    /// The paths of the keys written with a `[section]` that no written ancestor holds: what
    /// the export was made of (`reg export KEY` gives KEY alone), in the order first written.
    pub(super) fn top_sections(&self) -> Vec<String> {
        let mut tops = Vec::new();
        let mut pending: Vec<usize> = self.nodes[TOP].children.iter().rev().copied().collect();
        while let Some(node) = pending.pop() {
            let entry = &self.nodes[node];
            if entry.removed {
                continue;
            }
            if entry.section.is_some() {
                tops.push(self.path_of(node));
            } else {
                pending.extend(entry.children.iter().rev());
            }
        }
        tops
    }

    /// The key's path as first written, its components joined by `\\`.
    fn path_of(&self, mut node: usize) -> String {
        let mut parts = Vec::new();
        while node != TOP {
            parts.push(&*self.nodes[node].name);
            node = self.nodes[node].parent;
        }
        parts.reverse();
        parts.join("\\")
    }

    /// The node of the key at `components`, when the key exists: when it has a section, or a
    /// key below it has one. The empty path is no key.
    pub(super) fn find(&self, components: &[&str]) -> Option<usize> {
        if components.is_empty() {
            return None;
        }
        let mut node = TOP;
        for component in components {
            node = *self.edges.get(&(node, fold(component)))?;
        }
        Some(node)
    }

    /// The node of the key at `components`, created with its missing ancestors when absent.
    /// `components` must not be empty.
    pub(super) fn insert(&mut self, components: &[&str]) -> usize {
        let mut node = TOP;
        for component in components {
            let key = (node, fold(component));
            node = match self.edges.get(&key) {
                Some(&child) => child,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(Node {
                        name: Box::from(*component),
                        parent: node,
                        children: Vec::new(),
                        section: None,
                        live_children: 0,
                        removed: false,
                    });
                    self.nodes[node].children.push(child);
                    self.nodes[node].live_children += 1;
                    self.edges.insert(key, child);
                    child
                }
            };
        }
        node
    }

    /// The position of the node's own section.
    pub(super) fn section(&self, node: usize) -> Option<usize> {
        self.nodes[node].section
    }

    /// Records the position of the node's own section.
    pub(super) fn set_section(&mut self, node: usize, position: usize) {
        self.nodes[node].section = Some(position);
    }

    /// Moves every section to `renumbered[its position]` (none where that is `None`).
    pub(super) fn renumber_sections(&mut self, renumbered: &[Option<usize>]) {
        for node in &mut self.nodes {
            if let Some(position) = node.section {
                node.section = renumbered.get(position).copied().flatten();
            }
        }
    }

    /// The names of the node's subkeys, in the order they were first written.
    pub(super) fn child_names(&self, node: usize) -> impl Iterator<Item = &str> {
        self.nodes[node]
            .children
            .iter()
            .map(|&child| &self.nodes[child])
            .filter(|child| !child.removed)
            .map(|child| &*child.name)
    }

    /// Removes the key at `node` and everything below it, as `[-KEY]` does, and the ancestors
    /// that only existed because of it. Returns the positions of the sections removed.
    pub(super) fn remove(&mut self, node: usize) -> Vec<usize> {
        let mut sections = Vec::new();
        let mut pending = vec![node];
        while let Some(current) = pending.pop() {
            let entry = &mut self.nodes[current];
            if entry.removed {
                continue;
            }
            entry.removed = true;
            sections.extend(entry.section.take());
            // Children removed earlier are met again here and skipped above.
            pending.extend(entry.children.iter().copied());
        }
        let mut current = node;
        while current != TOP {
            let parent = self.nodes[current].parent;
            let folded = fold(&self.nodes[current].name);
            self.edges.remove(&(parent, folded));
            self.nodes[current].removed = true;
            self.nodes[parent].live_children -= 1;
            let keep = parent == TOP
                || self.nodes[parent].section.is_some()
                || self.nodes[parent].live_children > 0;
            if keep {
                break;
            }
            current = parent;
        }
        sections
    }

    /// How many bytes the stored component names take, for tests of the memory bound.
    #[cfg(test)]
    pub(super) fn stored_name_bytes(&self) -> usize {
        self.nodes.iter().map(|node| node.name.len()).sum::<usize>()
            + self.edges.keys().map(|(_, name)| name.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_exist_and_removal_prunes_them() {
        let mut index = KeyIndex::new();
        let deep = index.insert(&["HKLM", "A", "B", "C"]);
        index.set_section(deep, 0);
        let other = index.insert(&["HKLM", "X"]);
        index.set_section(other, 1);
        assert_eq!(
            index.find(&["hklm", "a", "b"]),
            index.find(&["HKLM", "A", "B"])
        );
        assert!(index.find(&["HKLM", "A", "B"]).is_some());
        assert!(index.find(&[]).is_none());
        let a = index.find(&["HKLM", "A"]).unwrap();
        assert_eq!(index.remove(a), vec![0]);
        assert!(index.find(&["HKLM", "A"]).is_none());
        assert!(index.find(&["HKLM", "A", "B", "C"]).is_none());
        let hklm = index.find(&["HKLM"]).unwrap();
        assert_eq!(index.child_names(hklm).collect::<Vec<_>>(), ["X"]);
        let x = index.find(&["HKLM", "X"]).unwrap();
        assert_eq!(index.remove(x), vec![1]);
        assert!(index.find(&["HKLM"]).is_none(), "HKLM only held X");
    }

    #[test]
    fn an_export_holds_the_keys_it_writes_and_what_is_below_them() {
        let mut index = KeyIndex::new();
        let parameters = index.insert(&["HKLM", "SYSTEM", "CCS", "Services", "LanmanServer"]);
        index.set_section(parameters, 0);
        let leaf = index.insert(&["HKLM", "SOFTWARE", "Policies", "Hiveward", "Leaf"]);
        index.set_section(leaf, 1);
        index.note_deleted(&["HKLM", "SOFTWARE", "Gone"]);
        let coverage = |path: &[&str]| index.coverage(path);
        // The written key, a key below it that is absent, and any case.
        assert_eq!(
            coverage(&["HKLM", "SYSTEM", "CCS", "Services", "LanmanServer"]),
            ExportCoverage::Whole
        );
        assert_eq!(
            coverage(&[
                "hklm",
                "system",
                "ccs",
                "services",
                "lanmanserver",
                "Shares"
            ]),
            ExportCoverage::Whole
        );
        // Above a written key only existence is known; beside it nothing.
        assert_eq!(
            coverage(&["HKLM", "SYSTEM", "CCS", "Services"]),
            ExportCoverage::Ancestor
        );
        assert_eq!(
            coverage(&["HKLM", "SYSTEM", "CCS", "Services", "srv"]),
            ExportCoverage::Outside
        );
        assert_eq!(
            coverage(&["HKLM", "SOFTWARE", "Policies", "Other"]),
            ExportCoverage::Outside
        );
        // A deleted key, and what is below it, is known to be absent.
        assert_eq!(
            coverage(&["HKLM", "SOFTWARE", "gone", "Below"]),
            ExportCoverage::Whole
        );
        assert_eq!(coverage(&[]), ExportCoverage::Outside);
        assert_eq!(
            index.top_sections(),
            [
                r"HKLM\SYSTEM\CCS\Services\LanmanServer",
                r"HKLM\SOFTWARE\Policies\Hiveward\Leaf"
            ]
        );
    }

    #[test]
    fn a_deep_path_stores_each_component_once() {
        let components: Vec<String> = (0..20_000).map(|n| format!("k{n}")).collect();
        let parts: Vec<&str> = components.iter().map(String::as_str).collect();
        let mut index = KeyIndex::new();
        let node = index.insert(&parts);
        index.set_section(node, 0);
        let written: usize = parts.iter().map(|part| part.len()).sum();
        assert_eq!(index.nodes.len(), parts.len() + 1);
        assert_eq!(index.stored_name_bytes(), 2 * written);
        assert_eq!(index.find(&parts), Some(node));
    }
}
