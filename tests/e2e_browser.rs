//! A real headless Chromium loads the pages served by the real binary (fed by a real ZooKeeper) and
//! finds the ensemble table and SVG charts in the DOM it built.

mod support;

use std::process::Command;
use std::time::Duration;
use support::server::{Server, query, urlencode, wait_for};
use support::zookeeper::{ZkOptions, ZkServer};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM Chromium built for `url`, after its scripts ran, plus what it logged to the console.
fn dump_dom(url: &str, profile: &std::path::Path) -> (String, String) {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/install-peers (Debian packages chromium and chromium-driver)"
    );
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("CONSOLE") && (l.contains("Uncaught") || l.contains("Error")))
        .collect()
}

#[test]
fn chromium_renders_overview_ensemble_table_and_metric_chart() {
    let zk = ZkServer::start_standalone(&ZkOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\nzookeeper = [{:?}]\n",
        zk.client_addr()
    );
    let server = Server::start(dir.path(), &cfg);
    wait_for("a few ZooKeeper scrapes", Duration::from_secs(60), || {
        (query(&server.base, "zk_znode_count{cluster=\"lab\"}").len() == 1).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let profile = dir.path().join("chromium-profile");

    let (dom, log) = dump_dom(&server.url("/"), &profile);
    assert!(dom.contains("lab"), "overview names the cluster:\n{dom}");
    assert!(
        dom.contains(&zk.client_addr()),
        "overview lists the server:\n{dom}"
    );
    assert!(
        dom.contains("standalone") && !dom.contains(">no leader<"),
        "a standalone server is not an ensemble without a leader:\n{dom}"
    );
    assert!(
        console_errors(&log).is_empty(),
        "JS errors on /: {:?}",
        console_errors(&log)
    );

    let (dom, log) = dump_dom(&server.url("/zookeeper"), &profile);
    assert!(dom.contains("<table"), "ensemble table:\n{dom}");
    assert!(
        dom.contains(&zk.client_addr()) && dom.contains("standalone"),
        "server row with its mode:\n{dom}"
    );
    assert!(dom.contains("<svg"), "sparklines are inline SVG:\n{dom}");
    assert!(
        console_errors(&log).is_empty(),
        "JS errors on /zookeeper: {:?}",
        console_errors(&log)
    );

    let q = urlencode("zk_znode_count{cluster=\"lab\"}");
    let (dom, log) = dump_dom(
        &server.url(&format!("/metric?query={q}&range=1h")),
        &profile,
    );
    assert!(dom.contains("<svg"), "metric page chart:\n{dom}");
    assert!(dom.contains("<path"), "the chart draws a line:\n{dom}");
    assert!(
        dom.contains("raw"),
        "the footer names the tier that answered:\n{dom}"
    );
    assert!(
        console_errors(&log).is_empty(),
        "JS errors on /metric: {:?}",
        console_errors(&log)
    );
}
