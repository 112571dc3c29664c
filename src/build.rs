//! Compiles the JMX source's Java helper (src/sources/jmx/java/*.java) with `javac --release 11`
//! and generates `$OUT_DIR/jmx_helper.rs`: the class files as embedded bytes, which the bridge
//! writes to a private directory at run time (the binary never needs the source tree). Without a
//! JDK the build still succeeds: the generated module then carries the reason, and the JMX source
//! reports it at run time while every other source runs.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const JAVA_DIR: &str = "src/sources/jmx/java";

fn main() {
    println!("cargo:rerun-if-changed={JAVA_DIR}");
    println!("cargo:rerun-if-changed=src/build.rs");
    println!("cargo:rerun-if-env-changed=JAVAC");
    println!("cargo:rerun-if-env-changed=JAVA_HOME");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let generated = match compile(&out) {
        Ok(classes) => embed(&classes),
        Err(why) => {
            println!("cargo:warning=JMX helper not compiled: {why}");
            format!(
                "/// Why the helper classes are missing (set when kafkascope was built).\n\
                 pub const HELPER: Result<&[(&str, &[u8])], &str> = Err({why:?});\n"
            )
        }
    };
    fs::write(out.join("jmx_helper.rs"), generated).expect("write jmx_helper.rs");
}

/// Runs javac; the class files (relative path, absolute path) or why it could not.
fn compile(out: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let javac = find_javac().ok_or_else(|| {
        "javac (a JDK 11 or newer) was not found when kafkascope was built; install a JDK \
         (Debian: default-jdk-headless), then rebuild after touching src/sources/jmx/java/KsJmx.java \
         or with JAVAC=/path/to/javac to enable the JMX source"
            .to_string()
    })?;
    let sources: Vec<PathBuf> = fs::read_dir(JAVA_DIR)
        .map_err(|e| format!("cannot read {JAVA_DIR}: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "java"))
        .collect();
    if sources.is_empty() {
        return Err(format!("no .java files in {JAVA_DIR}"));
    }
    let classes = out.join("jmx-classes");
    let _ = fs::remove_dir_all(&classes);
    fs::create_dir_all(&classes)
        .map_err(|e| format!("cannot create {}: {e}", classes.display()))?;
    let output = Command::new(&javac)
        .args(["--release", "11", "-nowarn", "-encoding", "UTF-8", "-d"])
        .arg(&classes)
        .args(&sources)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", javac.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // A broken helper source is our bug, not a missing tool: fail the build loudly.
        panic!("javac failed on {JAVA_DIR}:\n{stderr}");
    }
    let mut found = Vec::new();
    collect_classes(&classes, &classes, &mut found);
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "javac produced no class files in {}",
            classes.display()
        ));
    }
    Ok(found)
}

fn collect_classes(root: &Path, dir: &Path, found: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_classes(root, &path, found);
        } else if path.extension().is_some_and(|x| x == "class")
            && let Ok(rel) = path.strip_prefix(root)
        {
            found.push((rel.to_string_lossy().replace('\\', "/"), path.clone()));
        }
    }
}

fn embed(classes: &[(String, PathBuf)]) -> String {
    let mut s = String::from(
        "/// The helper's class files: (path relative to the classpath root, bytes).\n\
         pub const HELPER: Result<&[(&str, &[u8])], &str> = Ok(&[\n",
    );
    for (rel, abs) in classes {
        let _ = writeln!(
            s,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    s.push_str("]);\n");
    s
}

fn find_javac() -> Option<PathBuf> {
    if let Some(explicit) = env::var_os("JAVAC") {
        return Some(PathBuf::from(explicit));
    }
    if let Some(home) = env::var_os("JAVA_HOME") {
        let p = PathBuf::from(home).join("bin").join("javac");
        if p.is_file() {
            return Some(p);
        }
    }
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|d| d.join("javac"))
        .find(|p| p.is_file())
}
