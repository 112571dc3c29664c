//! `/trends` over a real store seeded with 60 days of hourly series of a cluster: a lag that
//! grows on a known line gets its slope per day and week-over-week growth, a throughput with a
//! weekly pattern that doubled in the last week is the largest grower and draws its hour-of-week
//! strip, and a cluster without data says so.

mod web_support;

use kafkascope::model::{Labels, MetricKind, SeriesKey};
use web_support::*;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// Samples every 5 minutes, as a slow poller writes them.
const STEP: i64 = 300_000;

fn row(page: &str, title: &str) -> String {
    let at = page
        .find(&format!(">{title}</a>"))
        .unwrap_or_else(|| panic!("no row {title}"));
    page[at..at + page[at..].find("</tr>").unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trends_give_slopes_growth_and_the_weekly_pattern() {
    let env = start().await;
    let end = env.end.div_euclid(HOUR) * HOUR;
    let start_t = end - 60 * DAY;
    let labels = |pairs: &[(&str, &str)]| {
        let mut l = Labels::from_pairs(pairs.iter().copied());
        l.insert("cluster", "trendlab");
        l
    };
    let ids = env
        .store
        .resolve(&[
            (
                SeriesKey::new(
                    "kafka_consumergroup_lag",
                    labels(&[("consumergroup", "g"), ("topic", "t"), ("partition", "0")]),
                ),
                MetricKind::Gauge,
            ),
            (
                SeriesKey::new(
                    "kafka_topic_partition_current_offset",
                    labels(&[("topic", "t"), ("partition", "0")]),
                ),
                MetricKind::Gauge,
            ),
        ])
        .await
        .unwrap();
    let mut batch = Vec::new();
    let mut offset = 0.0;
    let mut t = start_t + STEP;
    while t <= end {
        batch.push((
            ids[0],
            t,
            1000.0 + 100.0 * (t - start_t) as f64 / DAY as f64,
        ));
        // Weekdays 09–17 UTC 10 records/s, else 1/s; twice that in the last week.
        let hour = (t / HOUR) % 24;
        let weekday = ((t / DAY) + 3) % 7 < 5;
        let mut rate = if weekday && (9..17).contains(&hour) {
            10.0
        } else {
            1.0
        };
        if t > end - 7 * DAY {
            rate *= 2.0;
        }
        offset += rate * 300.0;
        batch.push((ids[1], t, offset));
        t += STEP;
    }
    // The topic's partition count, as the kafka source writes it (so /trends links the topic).
    let parts = env
        .store
        .resolve(&[(
            SeriesKey::new("kafka_topic_partitions", labels(&[("topic", "t")])),
            MetricKind::Gauge,
        )])
        .await
        .unwrap();
    batch.push((parts[0], end, 1.0));
    assert_eq!(env.store.append(&batch, &[]).await.unwrap().rejected, 0);
    // Sixty days written at once: roll them up as the server's maintenance would have over time.
    env.store.compact_now().await.unwrap();

    let (status, page) = env
        .text(&format!(
            "/trends?cluster=trendlab&from={}&to={end}",
            end - 30 * DAY
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<b>Topics:</b> <a href=\"/trends?cluster=trendlab&#38;topic=t&#38;"),
        "the cluster's topics link to their trends: {}",
        &page[page.find("<p class=\"entities\">").unwrap_or(0)..][..300.min(page.len())]
    );
    let lag = row(&page, "Consumer lag, all groups");
    // +100 a day: the fit runs through whole days' averages, and where the newest whole day
    // ends depends on the time of day the test runs, so the third digit may move (+99.9).
    let slope: f64 = lag
        .split("<td>+")
        .nth(1)
        .and_then(|s| s.split(" / day (r² 1.00)").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no slope with r² 1.00: {lag}"));
    assert!((slope - 100.0).abs() <= 0.5, "{lag}");
    assert!(lag.contains("+11.8 %"), "{lag}");
    let msgs = row(&page, "Messages in");
    let wow: f64 = msgs
        .split("class=\"num warning\">+")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no highlighted growth: {msgs}"));
    assert!(
        (95.0..105.0).contains(&wow),
        "messages doubled: {wow} % in {msgs}"
    );
    assert!(
        page.find(">Messages in</a>") < page.find(">Consumer lag, all groups</a>"),
        "the largest grower first"
    );
    assert!(page.contains("Hour of the week: Messages in"));
    let opacity = |cell: &str| -> f64 {
        let at = page
            .find(&format!("<title>{cell}"))
            .unwrap_or_else(|| panic!("{cell}"));
        let before = &page[..at];
        let o = before.rfind("fill-opacity=\"").unwrap();
        before[o + 14..o + 18]
            .trim_end_matches('"')
            .parse()
            .unwrap()
    };
    assert!(
        opacity("Mon 10:00 UTC") > 3.0 * opacity("Sat 10:00 UTC"),
        "working hours stand out"
    );
    // Without data: said, not an error.
    let (status, page) = env.text("/trends?cluster=lab&range=1h").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("ZooKeeper znodes"),
        "the seeded ZooKeeper cluster has znodes"
    );
    let (status, _) = env.text("/trends?cluster=nope").await;
    assert_eq!(status, 404);

    // One group's and one topic's trends: the group's lag has the same +100 / day line, the
    // topic's messages in doubled; the cluster page links to them.
    let (status, page) = env
        .text(&format!(
            "/trends?cluster=trendlab&group=g&from={}&to={end}",
            end - 30 * DAY
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("trendlab: consumer group g"), "{page}");
    let lag = row(&page, "Lag");
    assert!(lag.contains(" / day (r² 1.00)"), "{lag}");
    assert!(
        !page.contains(">Consumer lag, all groups</a>"),
        "the cluster's rows are not the group's"
    );
    let (status, page) = env
        .text(&format!(
            "/trends?cluster=trendlab&topic=t&from={}&to={end}",
            end - 30 * DAY
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(row(&page, "Messages in").contains("class=\"num warning\">+"));
    // A topic nobody wrote: no rows, said so.
    let (status, page) = env.text("/trends?cluster=trendlab&topic=none").await;
    assert_eq!(status, 200);
    assert!(page.contains("No long-term quantity of this topic none has data yet"));
    for bad in [
        "/trends?cluster=trendlab&topic=t&group=g",
        "/trends?group=g",
    ] {
        let (status, page) = env.text(bad).await;
        assert_eq!(status, 400, "{bad}: {page}");
    }
    env.stop().await;
}

/// The retention-aware log-dir forecast: of two partitions in one log dir, the one whose oldest
/// offset moves (retention deleting) adds nothing, the young one grows by its bytes per record ×
/// records per day, and the mount's free space at that growth gives the days left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_dirs_fill_at_the_growth_of_the_partitions_not_yet_at_retention() {
    let env = start().await;
    let end = env.end.div_euclid(STEP) * STEP;
    let start_t = end - 2 * DAY;
    let labels = |pairs: &[(&str, &str)]| {
        let mut l = Labels::from_pairs(pairs.iter().copied());
        l.insert("cluster", "disklab");
        l
    };
    let g = MetricKind::Gauge;
    let keys = vec![
        (
            SeriesKey::new(
                "kafkascope_log_dir_info",
                labels(&[
                    ("instance", "h1"),
                    ("log_dir", "/kafka"),
                    ("mountpoint", "/data"),
                ]),
            ),
            g,
        ),
        (
            SeriesKey::new(
                "node_filesystem_size_bytes",
                labels(&[("instance", "h1"), ("mountpoint", "/data")]),
            ),
            g,
        ),
        (
            SeriesKey::new(
                "node_filesystem_avail_bytes",
                labels(&[("instance", "h1"), ("mountpoint", "/data")]),
            ),
            g,
        ),
    ];
    let mut keys = keys;
    for topic in ["young", "old"] {
        let tp = [("topic", topic), ("partition", "0")];
        keys.push((
            SeriesKey::new(
                "kafkascope_log_partition_bytes",
                labels(&[("instance", "h1"), ("log_dir", "/kafka"), tp[0], tp[1]]),
            ),
            g,
        ));
        keys.push((
            SeriesKey::new("kafka_topic_partition_current_offset", labels(&tp)),
            g,
        ));
        keys.push((
            SeriesKey::new("kafka_topic_partition_oldest_offset", labels(&tp)),
            g,
        ));
    }
    let ids = env.store.resolve(&keys).await.unwrap();
    let mut batch = Vec::new();
    let mut t = start_t;
    while t <= end {
        let s = (t - start_t) as f64 / 1000.0;
        batch.push((ids[0], t, 1.0));
        batch.push((ids[1], t, 1e12));
        batch.push((ids[2], t, 864e6));
        // young: 1 record/s since the start, 1,000 bytes each, nothing deleted yet.
        batch.push((ids[3], t, s * 1000.0));
        batch.push((ids[4], t, s));
        batch.push((ids[5], t, 0.0));
        // old: 50 records/s, retention keeps the newest 5 M records (the oldest offset moves).
        let latest = 10e6 + 50.0 * s;
        batch.push((ids[6], t, 5e9));
        batch.push((ids[7], t, latest));
        batch.push((ids[8], t, latest - 5e6));
        t += STEP;
    }
    assert_eq!(env.store.append(&batch, &[]).await.unwrap().rejected, 0);

    let (status, page) = env.text("/trends?cluster=disklab&range=1d").await;
    assert_eq!(status, 200, "{page}");
    let at = page
        .find("<table class=\"wide disks\">")
        .unwrap_or_else(|| panic!("no log-dir table: {page}"));
    let table = &page[at..at + page[at..].find("</table>").unwrap()];
    assert!(
        table.contains(">h1<") && table.contains("/kafka"),
        "{table}"
    );
    assert!(
        table.contains(">1 of 2<"),
        "one partition at its retention: {table}"
    );
    // 86.4 MB a day into 864 MB free: ten days, at most (young's retention is unknown).
    assert!(table.contains("10 days (at most)"), "{table}");
    assert!(table.contains("young +"), "{table}");
    assert!(
        !table.contains("old +"),
        "the topic at retention does not grow: {table}"
    );
    env.stop().await;
}
