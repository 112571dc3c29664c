//! What every page's layout needs: title, active nav entry, the time range and the other URL
//! parameters that links and the time picker must carry along.

use super::format::{urlencode, utc};
use super::timerange::{PresetLink, TimeRange};
use crate::model::{Timestamp, now_ms};

/// The layout context of one page (`templates/base.html` reads it as `page`).
#[derive(Clone, Debug)]
pub struct PageCtx {
    pub title: String,
    /// The nav entry to highlight: `overview`, `zookeeper`, `targets`, `events`, `metric`.
    pub nav: &'static str,
    /// The page's own path, for time-picker links.
    pub path: String,
    pub range: TimeRange,
    /// Parameters other than the range that the page's URL carries (kept by the time picker).
    pub keep: Vec<(String, String)>,
    pub generated_at: Timestamp,
    /// Whether the time picker is shown (error pages without a range hide it).
    pub picker: bool,
    /// Navigation entries of the configured sources: (id, title, path).
    pub source_nav: Vec<(&'static str, &'static str, &'static str)>,
    /// The one cluster the page shows (from `cluster=` or its path), for the window a drag over
    /// a chart opens on `/investigate`.
    pub cluster: Option<String>,
}

impl PageCtx {
    /// The layout of a page of the running server: its navigation shows the configured sources.
    pub(crate) fn new(
        ctx: &super::Ctx,
        title: impl Into<String>,
        nav: &'static str,
        path: impl Into<String>,
        range: TimeRange,
    ) -> Self {
        let mut page = Self::bare(title, nav, path, range);
        page.source_nav = super::sources::configured(ctx)
            .iter()
            .filter_map(|w| w.nav)
            .collect();
        page
    }

    /// A layout without source entries in the navigation (error pages, which have no state).
    pub fn bare(
        title: impl Into<String>,
        nav: &'static str,
        path: impl Into<String>,
        range: TimeRange,
    ) -> Self {
        PageCtx {
            title: title.into(),
            nav,
            path: path.into(),
            range,
            keep: Vec::new(),
            generated_at: now_ms(),
            picker: true,
            source_nav: Vec::new(),
            cluster: None,
        }
    }

    /// The page shows one cluster named in its path (`/zookeeper/lab/zk1:2181`).
    pub fn in_cluster(mut self, cluster: &str) -> Self {
        self.cluster = Some(cluster.to_string());
        self
    }

    /// `/investigate?from=…&to=…` without the times (the script adds the dragged window's),
    /// with the page's cluster.
    pub fn investigate_base(&self) -> String {
        match &self.cluster {
            Some(c) => format!("/investigate?cluster={}", urlencode(c)),
            None => "/investigate?".to_string(),
        }
    }

    pub fn keep(mut self, name: &str, value: &str) -> Self {
        if name == "cluster" && !value.is_empty() {
            self.cluster = Some(value.to_string());
        }
        if !value.is_empty() {
            self.keep.push((name.to_string(), value.to_string()));
        }
        self
    }

    fn keep_query(&self) -> String {
        self.keep
            .iter()
            .map(|(k, v)| format!("{}={}&", urlencode(k), urlencode(v)))
            .collect()
    }

    /// Link for a time-picker preset on this page, keeping the other parameters.
    pub fn preset_href(&self, p: &PresetLink) -> String {
        format!("{}?{}{}", self.path, self.keep_query(), p.query)
    }

    /// This page with the absolute times it shows now (and its other parameters): a link that
    /// shows the same window whenever it is opened.
    pub fn permalink(&self) -> String {
        format!(
            "{}?{}{}",
            self.path,
            self.keep_query(),
            self.range.absolute_query()
        )
    }

    /// This page with `compare=` set to `value` (empty: off), for the compare control.
    pub fn compare_href(&self, value: &str) -> String {
        format!(
            "{}?{}{}",
            self.path,
            self.keep_query(),
            self.range.compare_query(value)
        )
    }

    /// `&format=csv&chart=ID` (or `table=`) on this page at the absolute times it shows: the
    /// data of one chart or table exactly as drawn (see [`crate::web::export`]). Built only of
    /// percent-encoded parts and `&`s followed by a name and `=` (never a character reference),
    /// so templates may write it unescaped, as every chart carries two.
    pub fn export_href(&self, what: &str, id: &str, format: &str) -> String {
        format!(
            "{}&format={format}&{what}={}",
            self.permalink(),
            urlencode(id)
        )
    }

    /// `?range=24h` (or `?from=…&to=…`) to append to a path so it shows the same range.
    pub fn rq(&self) -> String {
        format!("?{}", self.range.query())
    }

    /// `path?range=…` for a link to another page with the same range.
    pub fn link(&self, path: &str) -> String {
        format!("{path}?{}", self.range.query())
    }

    pub fn generated(&self) -> String {
        utc(self.generated_at)
    }

    /// The stylesheet's URL, versioned by its content.
    pub fn css_href(&self) -> String {
        super::assets::href("app.css")
    }

    /// The script's URL, versioned by its content.
    pub fn js_href(&self) -> String {
        super::assets::href("app.js")
    }

    /// `/metric` for `query` over this page's range.
    pub fn metric_href(&self, query: &str) -> String {
        metric_link(query, &self.range)
    }

    pub fn nav_class(&self, entry: &str) -> &'static str {
        if self.nav == entry { "active" } else { "" }
    }
}

/// `/metric?query=…&<range>` for a query string, as used by every chart's title link.
pub fn metric_link(query: &str, range: &TimeRange) -> String {
    format!("/metric?query={}&{}", urlencode(query), range.query())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_range_and_page_parameters() {
        let range = TimeRange::last("6h", 1_000_000_000_000).unwrap();
        let page = PageCtx::bare("t", "events", "/events", range.clone())
            .keep("cluster", "lab a")
            .keep("kind", "");
        let preset = &range.preset_links()[0];
        assert_eq!(page.preset_href(preset), "/events?cluster=lab%20a&range=1h");
        assert_eq!(page.link("/targets"), "/targets?range=6h");
        assert_eq!(
            metric_link(r#"up{cluster="lab"}"#, &range),
            "/metric?query=up%7Bcluster%3D%22lab%22%7D&range=6h"
        );
    }
}
