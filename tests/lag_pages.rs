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
