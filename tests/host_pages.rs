//! The host pages over a real store seeded with two hosts' series: a log dir filling on a known
//! line gets "full in N days", a file system with only minutes of history or a sawtooth gets the
//! reason there is no forecast, and the busier host's disk reads are marked as the outlier.

mod web_support;

use kafkascope::model::{Labels, MetricKind, SeriesKey};
use web_support::*;

fn key(metric: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(metric, Labels::from_pairs(labels.iter().copied()))
}

/// Writes `f(i)` every minute from `from` to `to` for one series.
async fn write(
    env: &Env,
    k: SeriesKey,
    kind: MetricKind,
    from: i64,
    to: i64,
    f: impl Fn(i64) -> f64,
) {
    let id = env.store.resolve(&[(k, kind)]).await.expect("resolve")[0];
    let batch: Vec<_> = (0..)
        .map(|i| (i, from + i * 60_000))
        .take_while(|(_, ts)| *ts <= to)
        .map(|(i, ts)| (id, ts, f(i)))
        .collect();
    let r = env.store.append(&batch, &[]).await.expect("append");
    assert_eq!(r.rejected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_forecasts_and_outliers_come_from_the_stored_series() {
    let env = start().await;
    let (end, day) = (env.end, 86_400_000);
    let size = 1e12;
    for (host, reads_per_s) in [("broker-1:9101", 1e6), ("broker-2:9101", 5e6)] {
        let l = |extra: &[(&'static str, &'static str)]| {
            let mut v = vec![("cluster", CLUSTER), ("job", "agents"), ("instance", host)];
            v.extend_from_slice(extra);
            v
        };
        write(
            &env,
            key("node_memory_MemTotal_bytes", &l(&[])),
            MetricKind::Gauge,
            end - 2 * day,
            end,
            |_| 8e9,
        )
        .await;
        write(
            &env,
            key("node_disk_read_bytes_total", &l(&[("device", "vda")])),
            MetricKind::Counter,
            end - 2 * day,
            end,
            |i| i as f64 * 60.0 * reads_per_s,
        )
        .await;
        let data = l(&[
            ("device", "/dev/vdb"),
            ("fstype", "xfs"),
            ("mountpoint", "/data"),
        ]);
        write(
            &env,
            key("node_filesystem_size_bytes", &data),
            MetricKind::Gauge,
            end - 2 * day,
            end,
            |_| size,
        )
        .await;
        // /data loses 10 GB a day from 600 GB available: 60 days left at the end of day 0, so
        // 58 days at the end of the two days written.
        write(
            &env,
            key("node_filesystem_avail_bytes", &data),
            MetricKind::Gauge,
            end - 2 * day,
            end,
            |i| 600e9 - 10e9 * (i as f64 / 1440.0),
        )
        .await;
        let root = l(&[
            ("device", "/dev/vda"),
            ("fstype", "ext4"),
            ("mountpoint", "/"),
        ]);
        write(
            &env,
            key("node_filesystem_size_bytes", &root),
            MetricKind::Gauge,
            end - 2 * day,
            end,
            |_| size,
        )
        .await;
        // A sawtooth: no steady trend.
        write(
            &env,
            key("node_filesystem_avail_bytes", &root),
            MetricKind::Gauge,
            end - 2 * day,
            end,
            |i| if (i / 30) % 2 == 0 { 500e9 } else { 300e9 },
        )
        .await;
    }
    // jmx_exporter on broker-1 (port 7071): its bytes out belongs on broker-1's host page only.
    write(
        &env,
        key(
            "kafka_server_brokertopicmetrics_bytesout_total",
            &[
                ("cluster", CLUSTER),
                ("job", "kafka"),
                ("instance", "broker-1:7071"),
            ],
        ),
        MetricKind::Counter,
        end - 2 * day,
        end,
        |i| i as f64 * 60.0 * 2e6,
    )
    .await;
    let (status, page) = env.text("/hosts/lab/broker-1%3A9101?range=24h").await;
    assert_eq!(status, 200, "{page}");
    let row = |mp: &str| {
        let at = page
            .find(&format!(">{mp}</td>"))
            .unwrap_or_else(|| panic!("{mp} row missing"));
        page[at..at + page[at..].find("</tr>").unwrap()].to_string()
    };
    let cold = page
        .split("Broker bytes out vs disk reads and cache misses")
        .nth(1)
        .map(|rest| &rest[..rest.find("</figure>").unwrap()])
        .unwrap_or_else(|| panic!("no overlay chart"));
    assert!(
        cold.contains("broker bytes out") && cold.contains("disk reads"),
        "{cold}"
    );
    assert!(
        cold.contains("2 MB/s") || cold.contains("1.91 MiB/s"),
        "2 MB/s out: {cold}"
    );
    let (_, other) = env.text("/hosts/lab/broker-2%3A9101?range=24h").await;
    let other_cold = other
        .split("Broker bytes out vs disk reads")
        .nth(1)
        .unwrap();
    let other_cold = &other_cold[..other_cold.find("</figure>").unwrap()];
    assert!(
        !other_cold.contains("broker bytes out"),
        "broker-1's bytes out on broker-2's page"
    );
    let data = row("/data");
    assert!(data.contains("full in 58 days at this pace"), "{data}");
    assert!(data.contains("/ day (r² 1.00)"), "{data}");
    let rootfs = row("/");
    assert!(rootfs.contains("no forecast: no steady trend"), "{rootfs}");
    // Ten minutes of history are too little.
    let (_, short) = env
        .text(&format!(
            "/hosts/lab/broker-1%3A9101?from={}&to={}",
            end - 600_000,
            end
        ))
        .await;
    assert!(short.contains("at least an hour is needed"), "short range");

    let (status, list) = env.text("/hosts?range=1h").await;
    assert_eq!(status, 200);
    // broker-2 reads 5 MB/s against an average of 3: highlighted; broker-1 is not.
    let line = |host: &str| {
        let at = list.find(&format!(">{host}</a>")).unwrap();
        list[at..at + list[at..].find("</tr>").unwrap()].to_string()
    };
    assert!(
        line("broker-2:9101").contains("outlier"),
        "{}",
        line("broker-2:9101")
    );
    assert!(
        !line("broker-1:9101").contains("outlier"),
        "{}",
        line("broker-1:9101")
    );
    assert!(
        line("broker-2:9101").contains("disk read 1.7× avg"),
        "{}",
        line("broker-2:9101")
    );
    env.stop().await;
}
