//! `cargo bench --bench jmx_rules`: the JMX rule engine naming one broker-sized scrape — 2,000
//! beans / 10,000 numeric attributes shaped like a broker's (per-topic BrokerTopicMetrics meters,
//! RequestMetrics histograms per request type, per-partition Log gauges) plus text attributes the
//! rules skip — with three rule sets:
//!
//! 1. our broker preset (+ partitions + KRaft + JVM), cold (first scrape fills the match cache)
//!    and warm (the steady state: one cache lookup per attribute);
//! 2. the same preset with `cache` switched off everywhere (every attribute through the regexes);
//! 3. the preset's rules as an uncached team file would have them, for comparison.
//!
//! Figures: wall ms and process CPU ms per scrape (median and max over the rounds).
//! Env: `BENCH_BEANS` (default 2,000), `BENCH_ROUNDS` (default 20). Without cargo's `--bench` flag
//! (`cargo test --all-targets` builds and may run it) it does a smoke run: 200 beans, 2 rounds.

mod common;

use common::{cpu_ns, env_num, pct};
use kafkascope::sources::jmx::model::{Attribute, Bean, Value};
use kafkascope::sources::jmx::presets::{Family, Role, preset, rules_for};
use kafkascope::sources::jmx::rules::RuleSet;
use std::time::Instant;

fn bean(name: String, attrs: Vec<(&str, f64)>) -> Bean {
    let (domain, rest) = name
        .split_once(':')
        .map(|(d, r)| (d.to_string(), r.to_string()))
        .unwrap_or_default();
    let properties = rest
        .split(',')
        .filter_map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut attributes: Vec<Attribute> = attrs
        .into_iter()
        .map(|(n, v)| Attribute {
            name: n.to_string(),
            value: Value::Number(v),
        })
        .collect();
    attributes.push(Attribute {
        name: "RateUnit".into(),
        value: Value::Text("SECONDS".into()),
    });
    Bean {
        name,
        domain,
        properties,
        attributes,
    }
}

/// `n` beans, five numeric attributes each.
fn scrape(n: usize, round: usize) -> Vec<Bean> {
    let v = round as f64;
    let mut out = Vec::with_capacity(n);
    let meters = [
        "BytesInPerSec",
        "BytesOutPerSec",
        "MessagesInPerSec",
        "FailedFetchRequestsPerSec",
    ];
    let phases = [
        "TotalTimeMs",
        "RequestQueueTimeMs",
        "LocalTimeMs",
        "RemoteTimeMs",
        "ResponseQueueTimeMs",
    ];
    let mut i = 0;
    while out.len() < n {
        let b = match i % 4 {
            0 | 1 => bean(
                format!(
                    "kafka.server:type=BrokerTopicMetrics,name={},topic=topic-{}",
                    meters[i % meters.len()],
                    i / 4
                ),
                vec![
                    ("Count", 1e6 + v),
                    ("MeanRate", 1.0),
                    ("OneMinuteRate", 2.0),
                    ("FiveMinuteRate", 3.0),
                    ("FifteenMinuteRate", 4.0),
                ],
            ),
            2 => bean(
                format!(
                    "kafka.network:type=RequestMetrics,name={},request=Req{}",
                    phases[i % phases.len()],
                    i / 4
                ),
                vec![
                    ("Count", 10.0 + v),
                    ("50thPercentile", 1.0),
                    ("99thPercentile", 9.0),
                    ("Mean", 2.0),
                    ("Max", 30.0),
                ],
            ),
            _ => bean(
                format!(
                    "kafka.log:type=Log,name=Size,topic=topic-{},partition={i}",
                    i / 40
                ),
                vec![
                    ("Value", 1e9 + v),
                    ("Bogus1", 0.0),
                    ("Bogus2", 0.0),
                    ("Bogus3", 0.0),
                    ("Bogus4", 0.0),
                ],
            ),
        };
        out.push(b);
        i += 1;
    }
    out
}

fn measure(label: &str, set: &RuleSet, beans_per_scrape: usize, rounds: usize) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut samples = 0;
    let mut first = None;
    for r in 0..rounds {
        let beans = scrape(beans_per_scrape, r);
        let (t, c) = (Instant::now(), cpu_ns());
        let a = set.apply(&beans);
        let (w, cp) = (t.elapsed().as_secs_f64() * 1e3, (cpu_ns() - c) as f64 / 1e6);
        samples = a.samples.len();
        if first.is_none() {
            first = Some(w);
        } else {
            wall.push(w);
            cpu.push(cp);
        }
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let attrs = beans_per_scrape * 5;
    match (wall.last(), cpu.last()) {
        (Some(wmax), Some(cmax)) => println!(
            "{label:<44} {beans_per_scrape} beans / {attrs} attrs -> {samples} samples: first {:.1} ms; then wall p50 {:.1} ms max {:.1} ms, cpu p50 {:.1} ms max {:.1} ms",
            first.unwrap_or(0.0),
            pct(&wall, 0.5),
            wmax,
            pct(&cpu, 0.5),
            cmax
        ),
        _ => println!(
            "{label}: first {:.1} ms ({samples} samples)",
            first.unwrap_or(0.0)
        ),
    }
}

fn main() -> anyhow::Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let beans = env_num("BENCH_BEANS", if smoke { 200 } else { 2_000 });
    let rounds = env_num("BENCH_ROUNDS", if smoke { 2 } else { 20 }).max(2);
    if smoke {
        println!("(smoke run under cargo test: figures not comparable; use cargo bench)");
    }
    let cached = rules_for(Role::Broker, Family::JmxExporter, true)?;
    measure(
        "preset (cache: true), cold then warm",
        &cached,
        beans,
        rounds,
    );
    // The same rule files with every `cache: true` removed.
    let mut uncached: Option<RuleSet> = None;
    for f in [
        "kafka-partitions.yml",
        "kafka-broker.yml",
        "kraft.yml",
        "jvm.yml",
    ] {
        let text = preset(f)
            .ok_or_else(|| anyhow::anyhow!("no preset {f}"))?
            .replace("cache: true", "cache: false");
        let s = RuleSet::from_yaml(&text, f)?;
        match &mut uncached {
            Some(u) => u.extend(s),
            None => uncached = Some(s),
        }
    }
    let uncached = uncached.ok_or_else(|| anyhow::anyhow!("no rules"))?;
    measure(
        "preset with cache off (regexes every time)",
        &uncached,
        beans,
        rounds,
    );
    let team = RuleSet::from_yaml(
        include_str!("../fixtures/jmx/jmx_exporter_kafka_example.yml"),
        "team",
    )?;
    measure(
        "upstream-style team config (no cache)",
        &team,
        beans,
        rounds,
    );
    Ok(())
}
