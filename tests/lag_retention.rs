//! Lag against retention and the `[lag]` config, through the real server over a real SQLite
//! store seeded with the kafka source's series. Seeded, not produced on a broker: Tansu 0.6
//! answers DeleteRecords with a panic (an unfinished path in its storage engine), so a real
//! broker cannot move a partition's earliest offset in the lab.
//!
//! Seeded groups (10 minutes of polls every 5 s, with the fixtures' groups of `lag_support`):
//! - `billing-eu`: 12,000 behind on `billing` [0] (the lag dips to 12,000 and back, so Burrow
//!   says OK), over the `^billing-` threshold of 10,000 (ERR);
//! - `billing-small`: 50 behind on the same partition, under the threshold (stays OK);
//! - `lossy`: reads `lossy-topic` [0] from offset 100 while retention already moved the log start
//!   to 1,000: 780 records lost at the end, though its lag shrinks (Burrow: OK).

mod lag_support;

use kafkascope::config::Config;
use kafkascope::model::Timestamp;
use lag_support::*;

const CONFIG: &str = r#"
[lag]
intervals = 12
[[lag.thresholds]]
groups = "^billing-"
max_lag = 10000
status = "ERR"
"#;

fn seed(end: Timestamp) -> Extra {
    let start = end - 600_000;
    let mut samples = Vec::new();
    for i in 0..=120i64 {
        let ts = start + i * POLL_MS;
        let log_end = (ts - start) / 10 + 20_000;
        for (g, lag) in [
            ("billing-eu", if i % 2 == 0 { 12_000u64 } else { 12_010 }),
            ("billing-small", if i % 2 == 0 { 50 } else { 55 }),
        ] {
            samples.extend(commit_samples(
                g,
                "billing",
                0,
                (ts, log_end - lag as i64, lag),
            ));
            samples.push(lag_sum(g, "billing", ts, lag));
        }
        let committed = 100 + i;
        samples.extend(commit_samples(
            "lossy",
            "lossy-topic",
            0,
            (ts, committed, (5_000 - committed) as u64),
        ));
        samples.push(lag_sum(
            "lossy",
            "lossy-topic",
            ts,
            (5_000 - committed) as u64,
        ));
        for (topic, oldest) in [("billing", 0.0), ("lossy-topic", 1_000.0)] {
            samples.push(gauge(
                "kafka_topic_partition_oldest_offset",
                &[("topic", topic), ("partition", "0")],
                ts,
                oldest,
            ));
        }
    }
    let docs = [
        ("billing-eu", "billing"),
        ("billing-small", "billing"),
        ("lossy", "lossy-topic"),
    ]
    .iter()
    .map(|(g, t)| {
        (
            g.to_string(),
            group_doc(g, "Stable", "admin-api", &[(g, t, &[0])]),
        )
    })
    .collect();
    (samples, docs)
}

fn row<'a>(html: &'a str, group: &str) -> &'a str {
    let at = html
        .find(&format!(">{group}</a>"))
        .unwrap_or_else(|| panic!("no row for {group}: {html}"));
    let row = &html[at..];
    &row[..row.find("</tr>").expect("end of row")]
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_and_thresholds_on_the_pages_and_the_api() {
    let env = start_with(CONFIG, seed).await;

    let (code, html) = env.get("/consumers?range=1h").await;
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains("last 12 commits of each partition, raised by the 1 threshold"),
        "the [lag] settings explain the list"
    );
    // Over its threshold: ERR, and the row says why.
    let r = row(&html, "billing-eu");
    assert!(r.contains(">ERR</span>"), "{r}");
    assert!(
        r.contains("lag 12,000 &#62; threshold 10,000 set for groups matching ^billing- (ERR)"),
        "{r}"
    );
    assert!(r.contains(">15 %<"), "12,000 of the 80,000 retained: {r}");
    // Positive control: the same partition, under the threshold, keeps Burrow's OK.
    let r = row(&html, "billing-small");
    assert!(r.contains(">OK</span>") && !r.contains("threshold"), "{r}");
    assert!(!r.contains("critical"), "{r}");
    // Data lost: flagged red, though Burrow's rules say OK (the lag shrinks).
    let r = row(&html, "lossy");
    assert!(r.contains(">OK</span>"), "{r}");
    assert!(
        r.contains("class=\"num critical\" title=\"lossy-topic [0]: committed 220 in a log of 1000..5000\">100 % (780 lost)<"),
        "{r}"
    );
    assert!(r.contains("780 records deleted by retention"), "{r}");
    // Groups without an earliest offset stored show none.
    assert!(row(&html, "steady").contains(">–<"));

    // Sorted by retention: the group that lost data first, then the one with most left to read.
    let (code, html) = env.get("/consumers?range=1h&sort=retention").await;
    assert_eq!(code, 200);
    let pos = |g: &str| html.find(&format!(">{g}</a>")).expect("row");
    assert!(pos("lossy") < pos("billing-eu") && pos("billing-eu") < pos("billing-small"));
    assert!(
        pos("billing-small") < pos("steady"),
        "known retention before unknown"
    );

    // The group page: the evidence, and retention per partition.
    let (code, html) = env.get("/consumers/tansu/lossy?range=1h").await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("<dt>Evidence</dt>"), "{html}");
    assert!(html.contains(
        "lossy-topic [0]: committed offset 220 is below the log start 1000: 780 records deleted by retention before the group read them"
    ));
    assert!(html.contains("offsets 1000..5000 kept by the broker"));
    assert!(html.contains("12/12 commits"), "intervals = 12 from [lag]");
    // As of five minutes ago (the newest samples are after the range's end, so every value is
    // read as of then): the loss was larger, the consumer 60 commits further back.
    let (code, html) = env
        .get("/consumers/tansu/lossy?from=now-1h&to=now-5m")
        .await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("records deleted by retention"), "{html}");
    assert!(
        !html.contains("780 records"),
        "not the present's loss: {html}"
    );
    let (_, html) = env.get("/consumers/tansu/billing-small?range=1h").await;
    assert!(
        !html.contains("<dt>Evidence</dt>"),
        "nothing beyond Burrow's rules"
    );

    // The Burrow API: the same status, with the reasons as `evidence`.
    let (code, v) = env.json("/v3/kafka/tansu/consumer/billing-eu/status").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"]["status"], "ERR");
    assert_eq!(
        v["status"]["evidence"][0],
        "lag 12,000 > threshold 10,000 set for groups matching ^billing- (ERR)"
    );
    let (_, v) = env.json("/v3/kafka/tansu/consumer/lossy/lag").await;
    assert!(
        v["status"]["evidence"][0]
            .as_str()
            .is_some_and(|e| e.contains("780 records deleted")),
        "{v}"
    );
    // Negative control: Burrow's shape, without `evidence`, when there is nothing to add.
    let (_, v) = env.json("/v3/kafka/tansu/consumer/billing-small/lag").await;
    assert_eq!(v["status"]["status"], "OK");
    assert!(v["status"].get("evidence").is_none(), "{v}");
    // intervals = 12: the ring of the detail has 12 slots.
    let (_, v) = env.json("/v3/kafka/tansu/consumer/billing-small").await;
    assert_eq!(
        v["topics"]["billing"][0]["offsets"]
            .as_array()
            .map(Vec::len),
        Some(12),
        "{v}"
    );
    env.stop().await;
}

#[test]
fn check_config_names_the_wrong_lag_key() {
    for (text, key) in [
        ("[lag]\nintervals = 0\n", "lag.intervals"),
        ("[lag]\nexpire_group = \"5s\"\n", "lag.expire_group"),
        (
            "[[lag.thresholds]]\ngroups = \"[\"\nmax_lag = 1\n",
            "lag.thresholds[0].groups",
        ),
        (
            "[[lag.thresholds]]\ngroups = \"a\"\nmax_lag = 1\nstatus = \"PANIC\"\n",
            "lag.thresholds[0].status",
        ),
        ("[lag]\nintervalls = 3\n", "lag"),
    ] {
        let err = Config::parse(text, "t.toml").expect_err(text).to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    // Positive control: a full, valid section.
    Config::parse(CONFIG, "t.toml").expect("valid [lag]");
}
