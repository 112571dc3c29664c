//! The Kafka pages fed by the kafka source from a real Tansu broker, config → source → store →
//! pages: `/topics` lists the topics with their partitions and the groups reading them, the topic
//! page shows its partitions' offsets as confluent-kafka produced them and the group's lag, the
//! overview has a Kafka tile, and the lag engine lists the group, says its status is inferred
//! (OffsetFetch polling) and answers Burrow's `/v3` API for it; the lag recorder writes the
//! group's largest lag in seconds and status as series, which the overview charts.

mod support;

use std::time::Duration;
use support::kafka::Tansu;
use support::server::{Server, get, query, wait_for};

fn row(page: &str, cell: &str) -> String {
    let at = page
        .find(cell)
        .unwrap_or_else(|| panic!("{cell} not on the page"));
    let start = page[..at].rfind("<tr>").unwrap_or(0);
    page[start..at + page[at..].find("</tr>").unwrap()].to_string()
}

#[test]
fn topics_groups_and_burrows_api_show_what_the_broker_holds() {
    let dir = tempfile::tempdir().unwrap();
    let k = Tansu::start(dir.path());
    k.tool("create-topic", &["payments", "2"]);
    k.tool("produce", &["payments", "0", "6"]);
    k.tool("produce", &["payments", "1", "4"]);
    k.tool("commit", &["ledger", "payments", "0=2", "1=4"]);
    let server = Server::start(
        dir.path(),
        &format!(
            "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n[clusters.kafka]\nbrokers = [\"{}\"]\ncommits = \"admin-api\"\n",
            k.addr
        ),
    );
    wait_for("the group's lag", Duration::from_secs(60), || {
        let r = query(
            &server.base,
            "kafka_consumergroup_lag{consumergroup=\"ledger\"}",
        );
        (r.len() == 2).then_some(())
    });
    let (status, list) = get(&format!("{}/topics?range=15m", server.base));
    assert_eq!(status, 200, "{list}");
    let payments = row(&list, ">payments</a>");
    // Two partitions, 10 messages retained, one group, lag 4 (6 − 2 on partition 0).
    assert!(payments.contains(">2</td>"), "{payments}");
    assert!(payments.contains(">10</td>"), "{payments}");
    assert!(
        payments.contains(">1</td>") && payments.contains(">4</td>"),
        "{payments}"
    );

    let (status, page) = get(&format!("{}/topics/lab/payments?range=15m", server.base));
    assert_eq!(status, 200, "{page}");
    for title in [
        "Messages in",
        "Messages in by partition",
        "Consumer lag by group",
        "Retained messages",
    ] {
        assert!(page.contains(&format!(">{title}</a>")), "panel {title}");
    }
    // Partition 0: earliest 0, latest 6 (one record per batch, so Tansu's watermark is exact).
    let p0 = row(&page, "<td class=\"num\">0</td>");
    assert!(p0.contains(">6</td>"), "{p0}");
    assert!(page.contains(">ledger</a>"), "the group reading it");
    let ledger = row(&page, ">ledger</a>");
    assert!(ledger.contains(">4</td>"), "{ledger}");

    let (status, overview) = get(&format!("{}/?range=15m", server.base));
    assert_eq!(status, 200);
    assert!(
        overview.contains("Kafka") && overview.contains("Partitions"),
        "no Kafka tile"
    );
    // The health strip from the kafka source's metadata and the lag engine's groups: the
    // controller the metadata names, and the groups by status (one group, ledger, with lag).
    assert!(overview.contains("data-key=\"controller\""), "{overview}");
    let groups = overview
        .split("data-key=\"groups\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no groups cell: {overview}"));
    assert!(groups[..groups.find("</li>").unwrap()].contains("WARN"));
    let (status, _) = get(&format!("{}/topics/lab/no-such-topic", server.base));
    assert_eq!(status, 404);

    // The lag engine over what the kafka source stored: the group is listed with its lag, its
    // page says the status is inferred from polled offsets, and Burrow's API answers for it.
    let (status, consumers) = get(&format!("{}/consumers?range=15m", server.base));
    assert_eq!(status, 200, "{consumers}");
    let ledger = row(&consumers, ">ledger</a>");
    assert!(
        ledger.contains(">4<") || ledger.contains(">4 "),
        "total lag 4: {ledger}"
    );
    let (status, page) = get(&format!("{}/consumers/lab/ledger?range=15m", server.base));
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("inferred"),
        "admin-api mode says the status is inferred"
    );
    let (status, body) = get(&format!("{}/v3/kafka/lab/consumer/ledger/lag", server.base));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], false, "{v}");
    assert_eq!(v["status"]["group"], "ledger", "{v}");
    assert_eq!(v["status"]["totallag"], 4, "{v}");

    // The lag recorder writes each group's evaluation as series every poll interval: the largest
    // lag in seconds (a lower bound here: the commit at 2 is older than the log-end history,
    // which starts at the first poll, when the log end was already 6), which the overview
    // charts, and Burrow's status code.
    let seconds = wait_for(
        "the recorded lag in seconds",
        Duration::from_secs(60),
        || {
            let r = query(
                &server.base,
                "kafka_consumergroup_group_max_lag_seconds{cluster=\"lab\",group=\"ledger\"}",
            );
            r.first().map(|(_, v)| *v)
        },
    );
    assert!(seconds.is_finite() && seconds >= 0.0, "{seconds}");
    // The recorded status is the one Burrow's API gives (1 OK, 2 WARN, 3 ERR); both are read
    // again until they were taken at the same evaluation.
    let (recorded, burrow) = wait_for("the recorded status", Duration::from_secs(30), || {
        let r = query(
            &server.base,
            "kafkascope_consumergroup_status{cluster=\"lab\",group=\"ledger\"}",
        );
        let (_, body) = get(&format!(
            "{}/v3/kafka/lab/consumer/ledger/status",
            server.base
        ));
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let burrow = match v["status"]["status"].as_str()? {
            "OK" => 1.0,
            "WARN" => 2.0,
            "ERR" => 3.0,
            other => panic!("status {other}"),
        };
        let recorded = r.first()?.1;
        (recorded == burrow).then_some((recorded, burrow))
    });
    assert!(
        recorded >= 2.0,
        "a group with lag is not OK: {recorded} {burrow}"
    );
    let none = query(
        &server.base,
        "kafka_consumergroup_group_max_lag_seconds{group=\"no-such-group\"}",
    );
    assert!(none.is_empty(), "{none:?}");
    // The overview's key chart of it, once a chart step holds a recorded value.
    let panel = wait_for("the max lag seconds chart", Duration::from_secs(90), || {
        let (_, overview) = get(&format!("{}/?range=15m", server.base));
        let at = overview.find("Max consumer lag in seconds")?;
        // Up to the next panel's title.
        let chart = overview[at..].split("</figure>").next()?;
        chart.contains("<svg").then(|| chart.to_string())
    });
    assert!(panel.contains("<path"), "{panel}");
}
