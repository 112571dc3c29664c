//! The one embedded JVM of the process (j4rs): found, started and checked once, on a thread of its
//! own; every failure becomes one text naming what is missing, never a panic or an abort.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use j4rs::{ClasspathEntry, InvocationArg, JavaOpt, Jvm, JvmBuilder};

mod helper {
    include!(concat!(env!("OUT_DIR"), "/jmx_helper.rs"));
}

/// The jar j4rs needs on the classpath (its build script copies it to `<profile>/jassets`).
pub const J4RS_JAR: &str = "j4rs-0.11.2-jar-with-dependencies.jar";

/// The helper class (src/sources/jmx/java/KsJmx.java).
pub const HELPER_CLASS: &str = "KsJmx";

/// Overrides where `jassets/` is looked for (a directory holding `jassets/`).
pub const BASE_ENV: &str = "KAFKASCOPE_J4RS_BASE";

/// More JVM options, whitespace-separated (e.g. `-Djavax.net.ssl.trustStore=…` for SSL targets).
pub const OPTS_ENV: &str = "KAFKASCOPE_JMX_JVM_OPTS";

/// How long one RMI call may wait for its answer before the JVM gives up on it (frees a thread
/// stuck on a target that accepted the connection and went silent).
pub const RMI_RESPONSE_TIMEOUT_MS: u64 = 30_000;

static STATUS: OnceLock<Result<String, String>> = OnceLock::new();

/// Starts the JVM on first use; Ok(version line of the helper) or why it cannot run.
pub fn status() -> Result<String, String> {
    STATUS
        .get_or_init(|| {
            // A thread of its own: JNI_CreateJavaVM must not run on the primordial thread, and
            // the thread that creates the JVM keeps JNI state we do not want on a tokio worker.
            std::thread::Builder::new()
                .name("kafkascope-jvm".into())
                .spawn(|| std::panic::catch_unwind(start).unwrap_or_else(|p| Err(panic_text(p))))
                .map_err(|e| format!("cannot spawn the JVM start-up thread: {e}"))
                .and_then(|h| h.join().unwrap_or_else(|p| Err(panic_text(p))))
        })
        .clone()
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    let what = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    format!("the embedded JVM failed to start: {what}")
}

/// Where to look for `jassets/`: the override, next to the binary, and one level up (test
/// binaries live in target/<profile>/deps). Never the build tree: a copied binary must say what
/// is missing beside it rather than work only on the machine that built it.
pub fn base_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(b) = std::env::var_os(BASE_ENV) {
        out.push(PathBuf::from(b));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        out.push(dir.to_path_buf());
        if let Some(up) = dir.parent() {
            out.push(up.to_path_buf());
        }
    }
    out.dedup();
    out
}

/// The first candidate holding `jassets/<j4rs jar>`, or a text listing where it looked.
pub fn find_base(candidates: &[PathBuf]) -> Result<PathBuf, String> {
    for c in candidates {
        if c.join("jassets").join(J4RS_JAR).is_file() {
            return Ok(c.clone());
        }
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|c| c.join("jassets").display().to_string())
        .collect();
    Err(format!(
        "j4rs' jassets not found (looked for {J4RS_JAR} in {}); copy target/<profile>/jassets \
         next to the kafkascope binary or set {BASE_ENV} to the directory holding jassets/",
        looked.join(", ")
    ))
}

fn locate_libjvm() -> Result<PathBuf, String> {
    let dir = java_locator::locate_jvm_dyn_library().map_err(|e| {
        format!(
            "JDK not found: no Java runtime (11 or newer) to embed ({e}); install one \
             (Debian: default-jdk-headless) or set JAVA_HOME"
        )
    })?;
    let lib = Path::new(&dir).join(java_locator::get_jvm_dyn_lib_file_name());
    if lib.is_file() {
        Ok(lib)
    } else {
        Err(format!("JDK not found: {} is missing", lib.display()))
    }
}

/// Writes the embedded class files into a fresh private directory (mode 0700, a name nobody
/// could have prepared), returns it and the class names.
fn write_classes(classes: &[(&str, &[u8])]) -> Result<(PathBuf, Vec<String>), String> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("kafkascope-jmx-{}-{nanos:x}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            format!(
                "helper classes missing: cannot create {}: {e}",
                dir.display()
            )
        })?;
    let mut names = Vec::new();
    for (rel, bytes) in classes {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                format!(
                    "helper classes missing: cannot create {}: {e}",
                    parent.display()
                )
            })?;
        }
        std::fs::write(&path, bytes).map_err(|e| {
            format!(
                "helper classes missing: cannot write {}: {e}",
                path.display()
            )
        })?;
        names.push(rel.trim_end_matches(".class").replace('/', "."));
    }
    Ok((dir, names))
}

fn start() -> Result<String, String> {
    let classes = helper::HELPER.map_err(|why| format!("helper classes missing: {why}"))?;
    let base = find_base(&base_candidates())?;
    let libjvm = locate_libjvm()?;
    let (dir, names) = write_classes(classes)?;
    let t0 = std::time::Instant::now();
    let result = boot(&base, &dir, &names);
    if let Ok(v) = &result {
        tracing::info!(
            ms = t0.elapsed().as_millis() as u64,
            jassets = %base.join("jassets").display(),
            "embedded JVM started for the JMX source: {v}"
        );
    }
    // Every helper class is loaded by now (preload), so the files have served their purpose.
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|v| format!("{v} (libjvm {})", libjvm.display()))
}

fn boot(base: &Path, classes_dir: &Path, names: &[String]) -> Result<String, String> {
    let base_s = base.to_string_lossy().to_string();
    let cp = classes_dir.to_string_lossy().to_string();
    let mut opts: Vec<String> = vec![
        // No JVM handlers for SIGINT/SIGTERM/SIGHUP/SIGQUIT: the server's own shutdown stays in charge.
        "-Xrs".into(),
        // Small and lean: the helper's live data is a few MB per target; C1 alone compiles it
        // well enough and keeps C2's compile arenas out of the server's RSS (measured in the jmx
        // bench); the heap gives memory back after the scrape bursts.
        "-Xms8m".into(),
        "-Xmx256m".into(),
        "-XX:+UseSerialGC".into(),
        "-XX:TieredStopAtLevel=1".into(),
        "-XX:MinHeapFreeRatio=10".into(),
        "-XX:MaxHeapFreeRatio=30".into(),
        "-XX:ReservedCodeCacheSize=32m".into(),
        "-Djava.awt.headless=true".into(),
        format!("-Dsun.rmi.transport.tcp.responseTimeout={RMI_RESPONSE_TIMEOUT_MS}"),
        "-Dsun.rmi.transport.tcp.handshakeTimeout=10000".into(),
        "-Dsun.rmi.transport.proxy.connectTimeout=10000".into(),
    ];
    if let Ok(extra) = std::env::var(OPTS_ENV) {
        opts.extend(extra.split_whitespace().map(str::to_string));
    }
    let java_opts: Vec<JavaOpt> = opts.iter().map(|o| JavaOpt::new(o)).collect();
    let jvm: Jvm = JvmBuilder::new()
        .with_base_path(&base_s)
        .classpath_entry(ClasspathEntry::new(&cp))
        .java_opts(java_opts)
        .skip_setting_native_lib()
        .build()
        .map_err(|e| format!("the embedded JVM did not start: {e}"))?;
    let list = names.join("\n");
    let missing: String = jvm
        .invoke_static(
            HELPER_CLASS,
            "preload",
            &[InvocationArg::try_from(list).map_err(|e| e.to_string())?],
        )
        .and_then(|i| jvm.to_rust(i))
        .map_err(|e| format!("helper classes missing: cannot load {HELPER_CLASS}: {e}"))?;
    if !missing.is_empty() {
        return Err(format!("helper classes missing: {missing}"));
    }
    let version: String = jvm
        .invoke_static(HELPER_CLASS, "probe", &[])
        .and_then(|i| jvm.to_rust(i))
        .map_err(|e| format!("helper classes missing: {HELPER_CLASS}.probe failed: {e}"))?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jassets_discovery_names_where_it_looked() {
        let tmp = std::env::temp_dir().join(format!("ks-jassets-test-{}", std::process::id()));
        let empty = tmp.join("empty");
        let good = tmp.join("good");
        std::fs::create_dir_all(&empty).expect("mkdir");
        std::fs::create_dir_all(good.join("jassets")).expect("mkdir");
        std::fs::write(good.join("jassets").join(J4RS_JAR), b"jar").expect("write");
        let err = find_base(std::slice::from_ref(&empty)).expect_err("no jassets there");
        assert!(
            err.contains(&empty.join("jassets").display().to_string()),
            "{err}"
        );
        assert!(err.contains("jassets not found"), "{err}");
        // Positive control: the second candidate has it.
        assert_eq!(find_base(&[empty.clone(), good.clone()]), Ok(good));
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn helper_classes_are_embedded_when_a_jdk_built_us() {
        // This machine has javac (scripts/install-peers installs a JDK): the build must have
        // compiled and embedded the helper.
        let classes = helper::HELPER.expect("javac ran at build time");
        assert!(
            classes
                .iter()
                .any(|(n, b)| *n == "KsJmx.class" && b.starts_with(&[0xCA, 0xFE, 0xBA, 0xBE]))
        );
    }
}
