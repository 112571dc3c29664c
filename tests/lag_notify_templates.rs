//! Burrow's own notifier template files (`config/default-http-post.tmpl`,
//! `default-http-delete.tmpl`, `default-email.tmpl`, copied unchanged into tests/fixtures/notify)
//! rendered over a known group status give the bytes Burrow would send: Go's float printing,
//! `time.Format`, `encoding/json` of the partitions, `*Lag` printed as `{n}`. A template naming a
//! field Burrow's data does not have (the older `.Id`) is refused when the config is checked,
//! naming the file and line.

use kafkascope::config::Config;
use kafkascope::lag::notifier::{data, template};
use kafkascope::lag::{ConsumerOffset, GroupStatus, PartitionStatus, Status};
use std::collections::BTreeMap;
use std::path::PathBuf;

const ID: &str = "11111111-2222-4333-8444-555555555555";
/// 2024-03-05 07:08:09.120 UTC.
const START: i64 = 1_709_622_489_120;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notify")
        .join(name)
}

fn status() -> GroupStatus {
    let p = PartitionStatus {
        topic: "orders".into(),
        partition: 1,
        owner: "/10.0.0.5".into(),
        client_id: "c-1".into(),
        status: Status::Stop,
        start: Some(ConsumerOffset {
            offset: 100,
            timestamp: 1_709_622_000_000,
            lag: Some(5),
        }),
        end: Some(ConsumerOffset {
            offset: 150,
            timestamp: 1_709_622_300_000,
            lag: Some(20),
        }),
        current_lag: 42,
        complete: 1.0,
        reason: String::new(),
        window: Vec::new(),
        retention: None,
    };
    GroupStatus {
        cluster: "lab".into(),
        group: "orders".into(),
        status: Status::Err,
        complete: 2.0 / 3.0,
        partitions: vec![p.clone()],
        partition_count: 3,
        maxlag: Some(p),
        totallag: 42,
        evidence: Vec::new(),
    }
}

fn render(file: &str) -> String {
    let src = std::fs::read_to_string(fixture(file)).unwrap();
    let t = template::Template::parse(file, &src).unwrap_or_else(|e| panic!("{e}"));
    let extras: BTreeMap<String, String> = [("api_key", "k-123"), ("app", "kafka"), ("tier", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let legacy = template::Legacy {
        id: ID.into(),
        notifier: "n".into(),
        cluster: "lab".into(),
        group: "orders".into(),
        status: "ERR".into(),
        total_lag: 42,
        start: String::new(),
        result: String::new(),
        escape: template::Escape::Json,
    };
    t.render(&data::data(&status(), ID, START, &extras), &legacy)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn burrows_http_post_template() {
    assert_eq!(
        render("default-http-post.tmpl"),
        concat!(
            r#"{"api_key":"k-123","app":"kafka","block":false,"events":[{"id":"11111111-2222-4333-8444-555555555555","#,
            r#""event":{"severity":"ERR","tier":"1","group":"orders","start":"Mar 05, 2024 07:08:09 UTC","complete":0.6666667,"#,
            r#""partitions":[{"topic":"orders","partition":1,"owner":"/10.0.0.5","client_id":"c-1","status":"STOP","#,
            r#""start":{"offset":100,"timestamp":1709622000000,"lag":5},"end":{"offset":150,"timestamp":1709622300000,"lag":20},"#,
            r#""current_lag":42,"complete":1}]}}]}"#,
            "\n"
        )
    );
    // It is JSON, and the WARN branch is taken for a WARN group.
    let v: serde_json::Value = serde_json::from_str(&render("default-http-post.tmpl")).unwrap();
    assert_eq!(v["events"][0]["event"]["partitions"][0]["current_lag"], 42);
}

#[test]
fn burrows_http_delete_template() {
    assert_eq!(
        render("default-http-delete.tmpl"),
        "{\"api_key\":\"k-123\",\"app\":\"kafka\",\"block\":false,\"ids\":[\"11111111-2222-4333-8444-555555555555\"],\"group\":\"orders\"}\n"
    );
}

#[test]
fn burrows_email_template() {
    assert_eq!(
        render("default-email.tmpl"),
        "Subject: [Burrow] Kafka Consumer Lag Alert\n\
         \n\
         The Kafka consumer groups you are monitoring are currently showing problems. The following groups are in a problem state (groups not listed are OK):\n\
         \n\
         Cluster:  lab\n\
         Group:    orders\n\
         Status:   ERR\n\
         Complete: 0.6666667\n\
         Errors:   1 partitions have problems\n          \
         STOP orders:1 (1709622000000, 100, {5}) -> (1709622300000, 150, {20})\n\
         \n"
    );
}

fn refused(text: &str) -> String {
    match Config::parse(text, "t.toml") {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unknown_field_is_a_config_error_naming_file_and_line() {
    let old = fixture("old-http-delete.tmpl");
    let text = |close: &PathBuf| {
        format!(
            "[[notifiers]]\nname = \"n\"\nurl_open = \"http://127.0.0.1:9/\"\nurl_close = \"http://127.0.0.1:9/{{{{.ID}}}}\"\ntemplate_open = {:?}\ntemplate_close = {:?}\n",
            fixture("default-http-post.tmpl").display().to_string(),
            close.display().to_string()
        )
    };
    let e = refused(&text(&old));
    assert!(
        e.contains("notifiers[0].template_close")
            && e.contains("old-http-delete.tmpl:1:")
            && e.contains("can't evaluate field Id"),
        "{e}"
    );
    // Positive control: Burrow's current files are accepted.
    Config::parse(&text(&fixture("default-http-delete.tmpl")), "t.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    // A syntax error, with its line.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tmpl");
    std::fs::write(&bad, "line one\n{{if .Result.Group}}\n{{range}}\n").unwrap();
    let e = refused(&text(&bad));
    assert!(e.contains("bad.tmpl:3: missing value for command"), "{e}");
}
