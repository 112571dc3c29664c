//! The overview (`/`) over a real store and the real server: the health strip of a cluster with
//! broker JMX series and ZooKeeper (brokers online against those seen, exactly one controller,
//! under-replicated partitions, an unclean election in the range, the quorum), the key charts that
//! have data (and not those without), and the top movers against the same range a week earlier.

mod web_support;

use kafkascope::model::{Labels, MetricKind, SeriesKey};
use web_support::*;

const WEEK: i64 = 7 * 86_400_000;

fn cell<'a>(page: &'a str, key: &str) -> &'a str {
    let at = page
        .find(&format!("data-key=\"{key}\""))
        .unwrap_or_else(|| panic!("no strip cell {key}"));
    let start = page[..at].rfind("<li").unwrap();
    &page[start..at + page[at..].find("</li>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_health_key_charts_and_top_movers() {
    let env = start().await;
    let broker = |metric: &str, instance: &str, extra: &[(&str, &str)]| {
        let mut l = Labels::from_pairs([
            ("cluster", CLUSTER),
            ("job", "kafka-broker"),
            ("instance", instance),
        ]);
        for (k, v) in extra {
            l.insert(*k, *v);
        }
        SeriesKey::new(metric, l)
    };
    // Three brokers report now; b4 reported only a week ago (so it is one we know of, now gone).
    let now_brokers = ["b1", "b2", "b3"];
    let mut keys = Vec::new();
    for b in now_brokers.iter().chain(["b4"].iter()) {
        keys.push((
            broker("kafka_server_replicamanager_partitioncount", b, &[]),
            MetricKind::Gauge,
        ));
        keys.push((
            broker(
                "kafka_controller_kafkacontroller_activecontrollercount",
                b,
                &[],
            ),
            MetricKind::Gauge,
        ));
        keys.push((
            broker(
                "kafka_server_replicamanager_underreplicatedpartitions",
                b,
                &[],
            ),
            MetricKind::Gauge,
        ));
        keys.push((
            broker(
                "kafka_server_brokertopicmetrics_bytesin_total",
                b,
                &[("topic", "")],
            ),
            MetricKind::Counter,
        ));
        keys.push((
            broker(
                "kafka_controller_controllerstats_uncleanleaderelections_total",
                b,
                &[],
            ),
            MetricKind::Counter,
        ));
    }
    let ids = env.store.resolve(&keys).await.unwrap();
    let per = 5;
    let mut batch = Vec::new();
    let step = SCRAPE_MS;
    for (i, b) in now_brokers.iter().chain(["b4"].iter()).enumerate() {
        let id = |k: usize| ids[i * per + k];
        // Bytes in per second now and a week ago: b1 doubled, the others flat.
        let (rate_now, rate_then) = match *b {
            "b1" => (2000.0, 1000.0),
            _ => (1000.0, 1000.0),
        };
        for (base, rate, present) in [
            (env.start - WEEK, rate_then, true),
            (env.start, rate_now, *b != "b4"),
        ] {
            if !present {
                continue;
            }
            let mut t = base;
            let mut bytes = 0.0;
            while t <= base + (env.end - env.start) {
                batch.push((id(0), t, 100.0));
                batch.push((id(1), t, if *b == "b1" { 1.0 } else { 0.0 }));
                batch.push((id(2), t, if *b == "b2" { 2.0 } else { 0.0 }));
                batch.push((id(3), t, bytes));
                // One unclean election on b3 half an hour before the end (this range only).
                let unclean = if *b == "b3" && base == env.start && t >= env.end - 1_800_000 {
                    1.0
                } else {
                    0.0
                };
                batch.push((id(4), t, unclean));
                bytes += rate * step as f64 / 1000.0;
                t += step;
            }
        }
    }
    assert_eq!(env.store.append(&batch, &[]).await.unwrap().rejected, 0);

    let (code, page) = env.text("/?range=2h").await;
    assert_eq!(code, 200, "{page}");

    let brokers = cell(&page, "brokers");
    assert!(brokers.contains("3 / 4"), "{brokers}");
    assert!(brokers.contains("class=\"warning\""), "{brokers}");
    let controller = cell(&page, "controller");
    assert!(
        controller.contains("<b>1</b>") && controller.contains("class=\"ok\""),
        "{controller}"
    );
    let urp = cell(&page, "urp");
    assert!(
        urp.contains("<b>2</b>") && urp.contains("class=\"warning\""),
        "{urp}"
    );
    let unclean = cell(&page, "unclean");
    assert!(
        unclean.contains("<b>1</b>") && unclean.contains("class=\"critical\""),
        "{unclean}"
    );
    let zk = cell(&page, "zookeeper");
    assert!(zk.contains("leader + 1 other"), "{zk}");
    // No KRaft controllers and no Kafka offsets here: no cell pretends they are fine.
    assert!(!page.contains("data-key=\"kraft\""));
    assert!(!page.contains("data-key=\"groups\""));

    // Key charts: the ones with data, not the others.
    assert!(page.contains(">Bytes in and out</a>"), "no bytes chart");
    assert!(!page.contains(">Total consumer lag</a>"));

    // Top movers: b1's doubled bytes in, at about +100 %.
    let at = page.find("<table class=\"movers\">").expect("movers table");
    let movers = &page[at..at + page[at..].find("</table>").unwrap()];
    let first = movers
        .split("<tr>")
        .find(|r| r.contains(">Bytes in</a>"))
        .unwrap_or_else(|| panic!("no bytes-in mover in {movers}"));
    assert!(first.contains(">b1<"), "{movers}");
    let pct: f64 = first
        .split("class=\"num grow\">")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.trim_start_matches('+').parse().ok())
        .unwrap_or_else(|| panic!("no change in {first}"));
    assert!((90.0..=110.0).contains(&pct), "{pct} in {first}");
    // The flat brokers did not move.
    assert!(
        !movers.contains(">b2<") && !movers.contains(">b3<"),
        "{movers}"
    );
    // The mover links to its series with last week's as a ghost.
    assert!(first.contains("compare=1w"), "{first}");

    // The same catalogue the pages draw from, as JSON.
    let (code, panels) = env.json("/api/v1/panels").await;
    assert_eq!(code, 200);
    let overview = panels["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["page"] == "/")
        .expect("the overview's panels");
    let bytes = overview["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Bytes in and out")
        .expect("bytes panel");
    assert_eq!(bytes["unit"], "bytes");
    assert_eq!(bytes["per_second"], true);

    env.stop().await;
}
