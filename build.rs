//! Embeds the example blueprints of `docs/examples/<slug>/<slug>-blueprint.json`, so that
//! `INITIALIZE_PORT_RESOURCES` can create the blueprint of any kind a mapping names and adding a
//! kind's example needs no code.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let examples = Path::new(&root).join("docs/examples");
    println!("cargo:rerun-if-changed={}", examples.display());
    let mut slugs: Vec<String> = std::fs::read_dir(&examples)
        .expect("docs/examples exists")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    slugs.sort();
    let mut out =
        String::from("/// `(slug, blueprint JSON)` of every kind example in docs/examples.\n");
    out.push_str("pub static EXAMPLE_BLUEPRINTS: &[(&str, &str)] = &[\n");
    for slug in slugs {
        let file = examples.join(&slug).join(format!("{slug}-blueprint.json"));
        if file.is_file() {
            println!("cargo:rerun-if-changed={}", file.display());
            writeln!(
                out,
                "    ({slug:?}, include_str!({:?})),",
                file.display().to_string()
            )
            .expect("writing to a String");
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("example_blueprints.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
