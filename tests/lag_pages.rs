//! The consumer pages through the real server over a real SQLite store seeded with the kafka
//! source's series and documents.

mod lag_support;

use lag_support::*;

#[tokio::test(flavor = "multi_thread")]
async fn consumers_page_lists_every_group_worst_first() {
    let env = start().await;
    let (code, html) = env.get("/consumers?range=1h").await;
    assert_eq!(code, 200, "{html}");
    let pos = |g: &str| {
        html.find(&format!(">{g}</a>"))
            .unwrap_or_else(|| panic!("no row for {g}: {html}"))
    };
    // ERR groups (STALL, STOP), then the WARN one, then OK.
    for err in ["lab-group-a", "lab-group-live", "stopped", "lab-java-group"] {
        assert!(pos(err) < pos("steady"), "{err} before the WARN group");
    }
    assert!(pos("steady") < pos("lab-group-b"), "WARN before OK");
    assert!(
        html.contains("<span class=\"badge critical\" title=\""),
        "ERR badges"
    );
    assert!(html.contains(">WARN</span>") && html.contains(">OK</span>"));
    // The steady group is a minute behind its producer, consuming as fast as it produces.
    let row = &html[pos("steady")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(">1 min<"),
        "lag time of the steady group: {row}"
    );
    assert!(row.contains("flat"), "{row}");
    assert!(row.contains("not draining"), "{row}");
    assert!(
        row.contains("<a class=\"spark\""),
        "a 24 h sparkline: {row}"
    );
    // The stopped group's consumer is gone: its lag keeps growing.
    let row = &html[pos("stopped")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("no commit for 20 min"), "{row}");
    assert!(
        row.contains("Empty"),
        "state from the state series or document: {row}"
    );
    // Admin-API clusters are marked as inferred.
    assert!(html.contains("status inferred from polled offsets (no commit timestamps)"));

    // Sorted by group name on request; an unknown sort is refused.
    let (code, html) = env.get("/consumers?range=1h&sort=group").await;
    assert_eq!(code, 200);
    let a = html.find(">lab-group-a</a>").unwrap();
    let s = html.find(">stopped</a>").unwrap();
    assert!(a < s);
    assert!(
        html.contains("class=\"sorted\"><a href=\"/consumers?range=1h&#38;sort=group\""),
        "{html}"
    );
    let (code, html) = env.get("/consumers?sort=colour").await;
    assert_eq!(code, 400);
    assert!(html.contains("colour"));
    env.stop().await;
}

/// Rows in the order the page lists them.
fn listed(html: &str) -> Vec<String> {
    html.split("<a class=\"mono\" href=\"/consumers/")
        .skip(1)
        .filter_map(|s| {
            let s = &s[s.find('>')? + 1..];
            Some(s[..s.find('<')?].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn consumers_page_pages_through_every_group_in_the_chosen_order() {
    let env = start().await;
    let (code, html) = env.get("/consumers?range=1h&sort=group").await;
    assert_eq!(code, 200);
    let all = listed(&html);
    assert!(all.len() >= 5, "{all:?}");
    assert!(!html.contains("class=\"pager\""), "one page needs no pager");
    // Two per page: the pages follow each other in the sorted order and the counts cover all.
    let mut paged = Vec::new();
    let pages = all.len().div_ceil(2);
    for n in 1..=pages {
        let (code, html) = env
            .get(&format!("/consumers?range=1h&sort=group&per=2&page={n}"))
            .await;
        assert_eq!(code, 200, "{html}");
        let rows = listed(&html);
        assert!(rows.len() <= 2, "page {n}: {rows:?}");
        paged.extend(rows);
        assert!(
            html.contains(&format!("{} groups in", all.len())),
            "page {n} counts every group"
        );
        assert!(html.contains(&format!("page {n} of {pages}")), "{html}");
        let next = format!("sort=group&#38;per=2&#38;page={}\">next", n + 1);
        assert_eq!(html.contains(&next), n < pages, "page {n}: next link");
    }
    assert_eq!(paged, all);
    let (code, body) = env
        .get(&format!("/consumers?range=1h&per=2&page={}", pages + 1))
        .await;
    assert_eq!(code, 400);
    assert!(body.contains(&format!("last page, {pages}")), "{body}");
    // The export keeps every row whatever the page.
    let (code, csv) = env
        .get("/consumers?range=1h&per=2&page=1&format=csv&table=consumers")
        .await;
    assert_eq!(code, 200);
    assert_eq!(csv.lines().count(), all.len() + 1, "{csv}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn group_page_explains_the_status_with_its_window() {
    let env = start().await;
    let (code, html) = env.get("/consumers/tansu/lab-group-live?range=1h").await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("<span class=\"badge critical\">ERR</span>"));
    assert!(html.contains(">STALL</span>"));
    assert!(
        html.contains("the same offset 7 was observed 10 times"),
        "{html}"
    );
    assert!(
        html.contains("Status inferred from polled offsets (no commit timestamps)"),
        "admin-api cluster"
    );
    // The window table: ten commits per partition with offset and lag.
    assert!(html.contains("10/10 commits"));
    assert_eq!(
        html.matches("<td class=\"num\">7</td><td class=\"num\">13</td>")
            .count(),
        10
    );
    // Charts: lag, lag seconds, consume vs produce.
    assert!(html.contains("Lag per partition (messages)"));
    assert!(html.contains("Lag in seconds per partition"));
    assert!(html.contains("Consume rate vs produce rate"));
    assert!(html.matches("<svg class=\"ch\"").count() >= 3);
    // Members and the group's event, escaped.
    assert!(html.contains("lab-live-0") && html.contains("lab-events [0, 1, 2]"));
    assert!(
        html.contains("generation 2 → 3 &#60;b&#62;"),
        "the event, escaped"
    );

    // Negative control: a group read from the offsets topic is not inferred.
    let (code, html) = env.get("/consumers/tansu/lab-group-a?range=1h").await;
    assert_eq!(code, 200);
    assert!(!html.contains("Status inferred from polled offsets"));
    assert!(html.contains("the same offset 10 was committed 10 times"));

    // The steady group: a minute of lag, as a chart and in the header.
    let (_, html) = env.get("/consumers/tansu/steady?range=1h").await;
    assert!(
        html.contains("<dt>Max lag time</dt><dd>1 min</dd>"),
        "{html}"
    );
    assert!(html.contains("lag never decreased over 10 commits (600 → 600)"));

    let (code, _) = env.get("/consumers/tansu/no-such-group").await;
    assert_eq!(code, 404);
    let (code, _) = env.get("/consumers/nope/lab-group-a").await;
    assert_eq!(code, 404);
    env.stop().await;
}

/// `weekly`: a producer of 10 messages a second polled every 5 s for ten minutes up to `end`,
/// the group 600 messages (60 s) behind; and the same ten minutes a week earlier with the
/// group 1200 messages (120 s) behind.
fn weekly(end: kafkascope::model::Timestamp) -> Extra {
    let mut samples = Vec::new();
    for (shift, behind) in [(0, 600), (WEEK, 1200)] {
        let start = end - shift - 600_000;
        let mut ts = start;
        while ts <= end - shift {
            let log_end = (ts - start) / 100;
            let committed = (log_end - behind).max(0);
            samples.extend(commit_samples(
                "weekly",
                "weekly-topic",
                0,
                (ts, committed, (log_end - committed) as u64),
            ));
            ts += POLL_MS;
        }
    }
    let doc = group_doc(
        "weekly",
        "Stable",
        "admin-api",
        &[("weekly-1", "weekly-topic", &[0])],
    );
    (samples, vec![("weekly".to_string(), doc)])
}

const WEEK: i64 = 7 * 86_400_000;

/// The values of the chart titled `title` on `page`, from its JSON export: the line's and, with
/// `compare=`, its ghost's averages per bucket.
async fn chart_export(env: &Env, page: &str, title: &str) -> serde_json::Value {
    let (code, html) = env.get(page).await;
    assert_eq!(code, 200, "{html}");
    let id = html
        .split("<figure class=\"chart\" id=\"")
        .skip(1)
        .find(|f| f[..f.find("</figure>").unwrap_or(f.len())].contains(title))
        .and_then(|f| f.split('"').next())
        .unwrap_or_else(|| panic!("no chart {title:?}: {html}"))
        .to_string();
    let (code, j) = env.json(&format!("{page}&format=json&chart={id}")).await;
    assert_eq!(code, 200, "{j}");
    j
}

#[tokio::test(flavor = "multi_thread")]
async fn lag_in_seconds_compares_with_the_same_window_last_week() {
    let env = start_with("", weekly).await;
    let page = "/consumers/tansu/weekly?range=1h";
    let title = "Lag in seconds per partition";
    let finite = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .expect("an array")
            .iter()
            .filter_map(|x| x.as_f64())
            .collect()
    };
    // Control: no ghost without compare=.
    let (_, html) = env.get(page).await;
    assert!(
        !html.contains("class=\"ghost\""),
        "no ghost without compare="
    );
    let j = chart_export(&env, page, title).await;
    assert_eq!(j["ghosts"].as_array().map_or(0, |g| g.len()), 0, "{j}");

    let compared = format!("{page}&compare=1w");
    let (_, html) = env.get(&compared).await;
    assert!(html.contains("<path class=\"ghost\""), "{html}");
    let j = chart_export(&env, &compared, title).await;
    let now = finite(&j["series"][0]["avg"]);
    let ghost = &j["ghosts"][0];
    assert_eq!(
        ghost["label"].as_str(),
        j["series"][0]["label"]
            .as_str()
            .map(|l| format!("{l} (1w earlier)"))
            .as_deref(),
        "{j}"
    );
    assert_eq!(ghost["shift_ms"], WEEK);
    let then = finite(&ghost["avg"]);
    assert!(!now.is_empty() && !then.is_empty(), "{j}");
    // Halfway through the ten minutes the group is as far behind as it stays: 60 s now, 120 s
    // a week ago.
    let settled = |v: &[f64]| v[v.len() / 2];
    assert!((settled(&now) - 60.0).abs() <= 10.0, "now: {now:?}");
    assert!(
        (settled(&then) - 120.0).abs() <= 10.0,
        "a week ago: {then:?}"
    );
    env.stop().await;
}
