//! The command line as users run it: config validation exit codes and messages.

use std::process::Command;

fn kafkascope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kafkascope"))
        .args(args)
        .output()
        .expect("run kafkascope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_accepts_the_shipped_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/kafkascope.example.toml");
    let (code, out, err) = kafkascope(&["check-config", example]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("valid"), "{out}");
}

#[test]
fn check_config_rejects_a_bad_value_with_exit_code_2_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:8080\"\n\n[[clusters]]\nname = \"lab\"\ninterval = \"fifteen\"\n").unwrap();
    let (code, _, err) = kafkascope(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("clusters[0].interval"), "{err}");
    assert!(err.contains("line 6"), "{err}");
}

#[test]
fn check_config_rejects_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[[clusters]]\nname = \"lab\"\nzookeepers = [\"127.0.0.1:2181\"]\n",
    )
    .unwrap();
    let (code, _, err) = kafkascope(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("zookeepers") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn check_config_reports_a_missing_file() {
    let (code, _, err) = kafkascope(&["check-config", "/nonexistent/kafkascope.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/kafkascope.toml"), "{err}");
}

#[test]
fn serve_refuses_an_invalid_config_before_touching_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    let db = dir.path().join("k.db");
    std::fs::write(
        &file,
        format!(
            "[server]\ndatabase = {:?}\nlisten = \"nowhere\"\n",
            db.display().to_string()
        ),
    )
    .unwrap();
    let (code, _, err) = kafkascope(&["serve", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("server.listen"), "{err}");
    assert!(
        !db.exists(),
        "no database may be created for an invalid config"
    );
}

#[test]
fn example_config_prints_a_valid_config() {
    let (code, out, _) = kafkascope(&["example-config"]);
    assert_eq!(code, 0);
    assert!(out.contains("[[clusters]]"));
}
