//! Every page's typed chart catalogue in one list: the overview's key charts, the broker, host and
//! topic pages' panels, the long-term quantities of `/trends` (per cluster, broker, topic and
//! group) and the top movers' families. The
//! tests below render every panel against a store seeded with exactly the series its query
//! selects, and check that no page repeats a panel and that each panel's unit and rate agree with
//! the catalogue of the metrics it reads — the mistakes the anchors' dashboards ship.
//!
//! Pages whose charts are every series of an entity rather than chosen panels (the ZooKeeper
//! server page and `/metric`) take unit and rate from [`crate::catalogue`] per series instead.

use super::{brokers, host, overview, topics, trends};
use crate::analysis::movers;
use crate::web::panels::{Panel, panel};

/// One page's panels, in display order.
pub struct PageCatalogue {
    pub page: &'static str,
    pub panels: Vec<Panel>,
}

/// Every page's panels.
pub fn all() -> Vec<PageCatalogue> {
    let with = |a: &[Panel], b: &[Panel]| a.iter().chain(b).copied().collect::<Vec<_>>();
    vec![
        PageCatalogue {
            page: "/",
            panels: overview::KEY_PANELS.to_vec(),
        },
        PageCatalogue {
            page: "/ (top movers)",
            panels: movers::FAMILIES
                .iter()
                .map(|f| panel(f.title, f.query, f.entity, "", f.unit, f.per_second, ""))
                .collect(),
        },
        PageCatalogue {
            page: "/brokers/{cluster}/{broker}",
            panels: with(brokers::PANELS, &[host::COLD_READS]),
        },
        PageCatalogue {
            page: "/hosts/{cluster}/{instance}",
            panels: with(host::PANELS, &[host::COLD_READS]),
        },
        PageCatalogue {
            page: "/topics/{cluster}/{topic}",
            panels: topics::PANELS.to_vec(),
        },
        trend_page("/trends", trends::TRENDS),
        trend_page("/trends?broker=", trends::BROKER_TRENDS),
        trend_page("/trends?topic=", trends::TOPIC_TRENDS),
        trend_page("/trends?group=", trends::GROUP_TRENDS),
    ]
}

fn trend_page(page: &'static str, defs: &[trends::TrendDef]) -> PageCatalogue {
    PageCatalogue {
        page,
        panels: defs
            .iter()
            .map(|t| panel(t.title, t.query, "", "", t.unit, t.per_second, t.what))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Unit;
    use crate::model::{Labels, MetricKind, SeriesKey};
    use crate::query::run::walk;
    use crate::store::{Store, StoreConfig};
    use crate::web::timerange::TimeRange;
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{Expr, parse, token};
    use std::collections::{BTreeMap, BTreeSet};

    const CLUSTER: &str = "cat";
    /// The entity a page's `{sel}` names, as the pages build it: the cluster plus the entity's
    /// labels (a broker's or host's instance, a topic).
    fn sel(page: &str) -> &'static str {
        if page.starts_with("/topics") || page == "/trends?topic=" {
            "cluster=\"cat\",topic=\"t1\""
        } else {
            "cluster=\"cat\",instance=\"i1:9999\""
        }
    }

    /// The query as `page` evaluates it (with every substitution a page makes).
    fn text(page: &str, p: &Panel) -> String {
        p.text(sel(page), 120_000)
            .replace("{cluster}", CLUSTER)
            .replace("{host}", "i1")
    }

    /// The alternatives of a regex like `a|b` or `pre_(a|b)suf` (one group), else the text with
    /// `.*`/`.+` read as "x".
    fn alternatives(re: &str) -> Vec<String> {
        if let (Some(open), Some(close)) = (re.find('('), re.rfind(')')) {
            let (pre, inner, post) = (&re[..open], &re[open + 1..close], &re[close + 1..]);
            return inner
                .split('|')
                .map(|a| format!("{pre}{a}{post}"))
                .collect();
        }
        re.split('|')
            .map(|a| a.replace(".*", "x").replace(".+", "x"))
            .collect()
    }

    /// Series that satisfy every selector of `e`: (name, labels, counter?).
    fn wanted(e: &Expr) -> Vec<(String, Labels, bool)> {
        let mut in_range = BTreeSet::new();
        walk(e, &mut |n| {
            if let Expr::MatrixSelector(m) = n {
                in_range.insert(format!("{:?}", m.vs.matchers));
            }
        });
        let mut out = Vec::new();
        walk(e, &mut |n| {
            let vs = match n {
                Expr::VectorSelector(vs) => vs,
                Expr::MatrixSelector(m) => &m.vs,
                _ => return,
            };
            let mut names: Vec<String> = vs.name.iter().cloned().collect();
            let mut labels = Labels::new();
            for m in &vs.matchers.matchers {
                let value = match &m.op {
                    MatchOp::Equal => m.value.clone(),
                    MatchOp::Re(_) => alternatives(&m.value).remove(0),
                    MatchOp::NotEqual if m.value.is_empty() => "x".into(),
                    MatchOp::NotEqual => format!("not-{}", m.value),
                    MatchOp::NotRe(_) => "zz".into(),
                };
                if m.name == "__name__" {
                    names = match &m.op {
                        MatchOp::Re(_) => alternatives(&m.value),
                        _ => vec![value],
                    };
                } else if !value.is_empty() {
                    labels.insert(m.name.clone(), value);
                }
            }
            let ranged = in_range.contains(&format!("{:?}", vs.matchers));
            for name in names {
                let counter = ranged
                    || name.ends_with("_total")
                    || name.ends_with("_count")
                    || name.ends_with("_sum");
                out.push((name, labels.clone(), counter));
            }
        });
        out
    }

    /// The unit and rate a panel over `metrics` must have, when its expression keeps the metric's
    /// unit (no division of series and no scaling, which make ratios or new units).
    fn expected(
        e: &Expr,
        metrics: &BTreeSet<String>,
        cat: &crate::catalogue::Catalogue,
    ) -> Option<(Unit, bool)> {
        let mut divides = false;
        let mut scales = false;
        let mut rate = false;
        walk(e, &mut |n| match n {
            Expr::Binary(b) if b.op.id() == token::T_DIV => divides = true,
            Expr::Binary(b) if b.op.id() == token::T_MUL => scales = true,
            Expr::Binary(b)
                if b.op.id() == token::T_SUB && matches!(*b.lhs, Expr::NumberLiteral(_)) =>
            {
                scales = true
            }
            Expr::Call(c) if matches!(c.func.name, "rate" | "irate" | "deriv") => rate = true,
            _ => {}
        });
        let units: BTreeSet<String> = metrics
            .iter()
            .map(|m| cat.unit(m).as_str().to_string())
            .collect();
        if divides || scales || units.len() != 1 {
            return None;
        }
        let unit = cat.unit(metrics.iter().next()?);
        Some(match (unit, rate) {
            // Seconds per second: a busy fraction.
            (Unit::Seconds, true) => (Unit::Ratio, false),
            (u, r) => (u, r),
        })
    }

    #[test]
    fn every_query_parses_and_no_page_repeats_a_panel() {
        for page in all() {
            let mut titles = BTreeSet::new();
            let mut queries = BTreeMap::new();
            for p in &page.panels {
                let q = text(page.page, p);
                parse(&q).unwrap_or_else(|e| panic!("{} {:?}: {e}: {q}", page.page, p.title));
                assert!(
                    titles.insert(p.title),
                    "{}: two panels titled {:?}",
                    page.page,
                    p.title
                );
                let norm: String = q.split_whitespace().collect();
                if let Some(other) = queries.insert(norm, p.title) {
                    panic!(
                        "{}: {:?} and {other:?} draw the same query",
                        page.page, p.title
                    );
                }
                assert!(!p.title.is_empty() && !p.query.is_empty());
            }
        }
        // Positive control: a repeated panel is found by the same comparison.
        let p = overview::KEY_PANELS[0];
        let (a, b): (String, String) = (text("/", &p), text("/", &p));
        assert_eq!(
            a.split_whitespace().collect::<String>(),
            b.split_whitespace().collect::<String>()
        );
    }

    #[test]
    fn units_and_rates_agree_with_the_metrics_they_read() {
        let cat = crate::sources::catalogue();
        let mut checked = 0;
        let mut wrong = Vec::new();
        for page in all() {
            for p in &page.panels {
                let e = parse(&text(page.page, p)).expect("parses (checked above)");
                let metrics: BTreeSet<String> = wanted(&e).into_iter().map(|w| w.0).collect();
                let Some((unit, rate)) = expected(&e, &metrics, &cat) else {
                    continue;
                };
                checked += 1;
                if (unit, rate) != (p.unit, p.per_second) {
                    wrong.push(format!(
                        "{} {:?}: drawn as {:?}{} but its metrics {metrics:?} are {:?}{}",
                        page.page,
                        p.title,
                        p.unit,
                        if p.per_second { "/s" } else { "" },
                        unit,
                        if rate { "/s" } else { "" }
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(checked >= 30, "only {checked} panels had a checkable unit");
        // Positive control: a bytes counter drawn as a plain number would be caught.
        let e = parse("rate(kafka_server_brokertopicmetrics_bytesin_total[1m])").unwrap();
        let m = BTreeSet::from(["kafka_server_brokertopicmetrics_bytesin_total".to_string()]);
        assert_eq!(expected(&e, &m, &cat), Some((Unit::Bytes, true)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_panel_of_every_page_draws_from_a_seeded_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path().join("cat.db")))
            .await
            .unwrap();
        let mut keys: BTreeMap<String, (SeriesKey, MetricKind)> = BTreeMap::new();
        for page in all() {
            for p in &page.panels {
                for (name, mut labels, counter) in wanted(&parse(&text(page.page, p)).unwrap()) {
                    labels.insert("cluster", CLUSTER);
                    let key = SeriesKey::new(name, labels);
                    let kind = if counter {
                        MetricKind::Counter
                    } else {
                        MetricKind::Gauge
                    };
                    keys.insert(key.to_string(), (key, kind));
                }
            }
        }
        let keys: Vec<_> = keys.into_values().collect();
        let ids = store.resolve(&keys).await.unwrap();
        let end = crate::model::now_ms().div_euclid(15_000) * 15_000;
        let mut batch = Vec::new();
        for (i, (id, (_, kind))) in ids.iter().zip(&keys).enumerate() {
            let mut t = end - 2 * 3_600_000;
            let mut v = 0.0;
            while t <= end {
                // Counters grow; gauges sit at a distinct positive level (ratios stay finite).
                v = match kind {
                    MetricKind::Counter => v + 15.0 * (i + 1) as f64,
                    _ => 0.25 + i as f64 * 1e-3,
                };
                batch.push((*id, t, v));
                t += 15_000;
            }
        }
        assert_eq!(store.append(&batch, &[]).await.unwrap().rejected, 0);

        let config = crate::config::Config::parse(
            &format!("[[clusters]]\nname = \"{CLUSTER}\"\n"),
            "catalogue.toml",
        )
        .unwrap();
        let ctx = crate::web::Ctx {
            app: crate::web::AppState {
                store: store.clone(),
                targets: crate::targets::TargetRegistry::default(),
                config: std::sync::Arc::new(config),
                catalogue: crate::sources::catalogue(),
            },
            http: Default::default(),
            data_context: Default::default(),
        };
        let range = TimeRange::parse(Some("1h"), None, None, end).unwrap();
        let mut drawn = 0;
        let mut empty = Vec::new();
        for page in all() {
            for p in &page.panels {
                let chart = p
                    .chart_with(
                        &ctx,
                        sel(page.page),
                        &[("{cluster}", CLUSTER), ("{host}", "i1")],
                        &range,
                        (400, 120),
                        &[],
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{} {:?}: {e}", page.page, p.title));
                if chart.empty || chart.lines.is_empty() {
                    empty.push(format!(
                        "{} {:?}: {}",
                        page.page,
                        p.title,
                        text(page.page, p)
                    ));
                } else {
                    assert_eq!(chart.unit, p.unit.as_str(), "{}", p.title);
                    drawn += 1;
                }
            }
        }
        assert!(
            empty.is_empty(),
            "panels without data:\n{}",
            empty.join("\n")
        );
        assert!(drawn > 60, "{drawn}");
        // Positive control: a panel whose series were not seeded is empty.
        let missing = panel(
            "m",
            "kafka_not_seeded{{sel}}",
            "",
            "",
            Unit::None,
            false,
            "",
        );
        let c = missing
            .chart(&ctx, sel("/"), &range, (400, 120), &[])
            .await
            .unwrap();
        assert!(c.empty || c.lines.is_empty());
    }
}
