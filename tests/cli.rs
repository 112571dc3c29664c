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

#[test]
fn bench_store_smoke_run_prints_the_documented_json_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = kafkascope(&[
        "bench-store",
        "--series",
        "300",
        "--duration",
        "2s",
        "--dir",
        dir.path().to_str().unwrap(),
        "--json",
        "--quick",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    for key in [
        "ingest_samples_per_sec",
        "bytes_per_sample",
        "latest_10k_ms",
        "max_write_stall_ms",
    ] {
        assert!(
            v[key].as_f64().is_some_and(|x| x.is_finite() && x >= 0.0),
            "{key} in {v}"
        );
    }
    assert!(v["ingest_samples_per_sec"].as_f64().unwrap() > 0.0, "{v}");
    for range in ["1h", "24h", "7d", "30d", "90d", "1y"] {
        for p in ["p50", "p99"] {
            assert!(
                v["read_ms"][range][p].as_f64().is_some(),
                "read_ms.{range}.{p} in {v}"
            );
        }
    }
}
