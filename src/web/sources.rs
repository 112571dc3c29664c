//! What the web layer knows of each source kind: its pages and their routes, its entry in the
//! navigation, its part of the overview, and the page that explains one of its events.
//!
//! A source with pages has one folder under `src/web/pages/<source>/` and one line in
//! [`WEB_SOURCES`]. The navigation shows the sources that have targets in the running
//! configuration; the overview asks each of them for its tile of each cluster.

use super::Ctx;
use super::chart::Chart;
use super::error::WebResult;
use super::timerange::TimeRange;
use crate::store::StoredEvent;
use axum::Router;
use std::future::Future;
use std::pin::Pin;

/// Every source kind with pages in this build.
pub const WEB_SOURCES: &[&WebSource] = &[
    &super::pages::zookeeper::WEB,
    &super::pages::prometheus::WEB,
    &super::pages::host::WEB,
    &super::pages::topics::WEB,
    &super::pages::consumers::WEB,
    &super::pages::brokers::WEB,
    &super::pages::clients::WEB,
];

pub type TileFuture<'a> = Pin<Box<dyn Future<Output = WebResult<Option<Tile>>> + Send + 'a>>;

/// The web side of one source kind.
pub struct WebSource {
    /// The source kind's key (`crate::sources::SourceKind::key`).
    pub key: &'static str,
    /// Its navigation entry: (id for highlighting, title, path).
    pub nav: Option<(&'static str, &'static str, &'static str)>,
    /// Adds its pages to the router.
    pub routes: fn(Router<Ctx>) -> Router<Ctx>,
    /// Its tile of one cluster on the overview (None when the cluster has nothing of it).
    pub overview: for<'a> fn(&'a Ctx, &'a str, &'a TimeRange, &'a [StoredEvent]) -> TileFuture<'a>,
    /// The page that explains an event of this source around its time (None: not its event).
    pub event_link: fn(&StoredEvent, &TimeRange) -> Option<String>,
}

/// One source's summary of one cluster on the overview.
pub struct Tile {
    /// The source's title (`ZooKeeper`).
    pub title: String,
    /// Its page for this cluster, with the range.
    pub link: String,
    /// `ok`, `warning`, `critical` or `unknown` (also the badge's CSS class).
    pub class: &'static str,
    /// Why it is not ok; empty when ok.
    pub reasons: Vec<String>,
    /// Short facts for the row: (label, value).
    pub facts: Vec<(String, String)>,
    pub charts: Vec<Chart>,
    /// Cells this source adds to the overview's health strip (the consumer groups by status),
    /// computed once with the tile rather than a second time for the strip.
    pub strip: Vec<crate::analysis::health::Cell>,
}

impl Tile {
    pub fn reasons_text(&self) -> String {
        self.reasons.join(" · ")
    }
}

/// The severity order of health classes, for "the worst of".
pub fn class_rank(class: &str) -> u8 {
    match class {
        "critical" => 3,
        "warning" => 2,
        "unknown" => 1,
        _ => 0,
    }
}

/// The web sources whose source kind has targets in the running configuration.
pub fn configured(ctx: &Ctx) -> Vec<&'static WebSource> {
    let targets = ctx.targets.snapshot();
    WEB_SOURCES
        .iter()
        .copied()
        .filter(|w| {
            targets
                .iter()
                .any(|t| crate::sources::kind_of_target(t.source).is_some_and(|k| k.key == w.key))
        })
        .collect()
}

/// Adds every source's pages.
pub fn routes(mut router: Router<Ctx>) -> Router<Ctx> {
    for w in WEB_SOURCES {
        router = (w.routes)(router);
    }
    router
}
