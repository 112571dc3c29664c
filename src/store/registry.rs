//! The series registry: every series' id, key and kind, held in memory with indexes by metric and
//! by label so that `select`, `label_names` and `label_values` never touch SQL.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{MatchOp, Matcher, MetricKind, SeriesKey};

use super::{SeriesId, SeriesInfo};

#[derive(Default)]
pub(crate) struct Registry {
    /// Indexed by id; slot 0 is unused so that ids start at 1 like SQLite rowids.
    by_id: Vec<Option<SeriesInfo>>,
    /// Looked up for every sample written: foldhash (randomly seeded, 3–4× SipHash's speed on
    /// label sets) rather than the default SipHash.
    by_key: HashMap<SeriesKey, SeriesId, foldhash::quality::RandomState>,
    by_metric: BTreeMap<String, Vec<SeriesId>>,
    /// label name → label value → ids.
    by_label: BTreeMap<String, BTreeMap<String, Vec<SeriesId>>>,
}

impl Registry {
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// One past the largest id, i.e. the length a per-id vector needs.
    pub fn id_bound(&self) -> usize {
        self.by_id.len().max(1)
    }

    pub fn next_id(&self) -> SeriesId {
        self.id_bound() as SeriesId
    }

    pub fn get(&self, key: &SeriesKey) -> Option<SeriesId> {
        self.by_key.get(key).copied()
    }

    pub fn info(&self, id: SeriesId) -> Option<&SeriesInfo> {
        self.by_id.get(id as usize).and_then(|s| s.as_ref())
    }

    pub fn kind(&self, id: SeriesId) -> Option<MetricKind> {
        self.info(id).map(|i| i.kind)
    }

    pub fn ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.by_id.iter().filter_map(|s| s.as_ref().map(|i| i.id))
    }

    pub fn insert(&mut self, info: SeriesInfo) {
        let id = info.id;
        let idx = id as usize;
        if self.by_id.len() <= idx {
            self.by_id.resize(idx + 1, None);
        }
        self.by_key.insert(info.key.clone(), id);
        self.by_metric
            .entry(info.key.metric.clone())
            .or_default()
            .push(id);
        for (name, value) in info.key.labels.iter() {
            self.by_label
                .entry(name.to_string())
                .or_default()
                .entry(value.to_string())
                .or_default()
                .push(id);
        }
        self.by_id[idx] = Some(info);
    }

    pub fn select(&self, metric: Option<&str>, matchers: &[Matcher]) -> Vec<SeriesInfo> {
        let mut out: Vec<SeriesInfo> = Vec::new();
        self.visit(metric, matchers, |info| out.push(info.clone()));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Calls `f` with every series [`Registry::select`] returns, in id order, without copying
    /// or sorting them: what a read of thousands of series pays most for otherwise.
    pub fn visit(&self, metric: Option<&str>, matchers: &[Matcher], f: impl FnMut(&SeriesInfo)) {
        // Narrow the candidates with the most selective index available, then filter exactly.
        let mut candidates: Option<&[SeriesId]> =
            metric.map(|m| self.by_metric.get(m).map_or(&[][..], Vec::as_slice));
        for m in matchers {
            if m.op != MatchOp::Equal || m.value.is_empty() {
                continue;
            }
            let ids = if m.name == "__name__" {
                self.by_metric.get(&m.value).map_or(&[][..], Vec::as_slice)
            } else {
                self.by_label
                    .get(&m.name)
                    .and_then(|values| values.get(&m.value))
                    .map_or(&[][..], Vec::as_slice)
            };
            if candidates.is_none_or(|c| ids.len() < c.len()) {
                candidates = Some(ids);
            }
        }
        let keep = |info: &&SeriesInfo| {
            metric.is_none_or(|m| info.key.metric == m)
                && matchers.iter().all(|m| m.matches_key(&info.key))
        };
        match candidates {
            Some(ids) => ids
                .iter()
                .filter_map(|&id| self.info(id))
                .filter(keep)
                .for_each(f),
            None => self.by_id.iter().flatten().filter(keep).for_each(f),
        }
    }

    pub fn label_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.by_label.keys().cloned().collect();
        names.insert("__name__".to_string());
        names.into_iter().collect()
    }

    pub fn label_values(&self, name: &str) -> Vec<String> {
        if name == "__name__" {
            return self.by_metric.keys().cloned().collect();
        }
        self.by_label
            .get(name)
            .map(|values| values.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    fn info(id: SeriesId, metric: &str, labels: &[(&str, &str)]) -> SeriesInfo {
        SeriesInfo {
            id,
            key: SeriesKey::new(metric, Labels::from_pairs(labels.iter().copied())),
            kind: MetricKind::Gauge,
        }
    }

    #[test]
    fn select_uses_metric_and_all_matchers() {
        let mut r = Registry::default();
        r.insert(info(1, "up", &[("job", "zk"), ("cluster", "a")]));
        r.insert(info(2, "up", &[("job", "kafka"), ("cluster", "a")]));
        r.insert(info(3, "zk_avg_latency", &[("cluster", "a")]));
        let got = r.select(Some("up"), &[Matcher::eq("cluster", "a")]);
        assert_eq!(
            got.iter().map(|i| i.id).collect::<Vec<_>>(),
            vec![2, 1],
            "sorted by key"
        );
        let got = r.select(None, &[Matcher::new("job", MatchOp::Regex, "z.*").unwrap()]);
        assert_eq!(got.iter().map(|i| i.id).collect::<Vec<_>>(), vec![1]);
        let got = r.select(None, &[Matcher::eq("__name__", "zk_avg_latency")]);
        assert_eq!(got.iter().map(|i| i.id).collect::<Vec<_>>(), vec![3]);
        assert!(r.select(Some("nope"), &[]).is_empty());
        assert_eq!(r.label_values("__name__"), vec!["up", "zk_avg_latency"]);
        assert_eq!(r.label_names(), vec!["__name__", "cluster", "job"]);
        assert_eq!(r.label_values("job"), vec!["kafka", "zk"]);
    }
}
