//! Rebuilds the engine when the built-in packs under `rules/` change, since they are embedded.

fn main() {
    println!("cargo:rerun-if-changed=../rules");
}
