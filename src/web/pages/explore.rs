//! `/explore` and `/explore/{target}`: JConsole's MBeans tab in the browser for every JMX target
//! of the config — domains, the beans of a domain, one bean's attributes with live values
//! (composites expanded), type and description from `MBeanInfo`, and its operations (listed, never
//! invoked). A numeric attribute can be tracked (collected from then on) with the server's write
//! token; the tracked list is kept in the store and can be removed from. Live values come through
//! the JMX source's explorer service ([`crate::sources::jmx::explorer`]), never from a connection
//! of this page's own.

use crate::model::now_ms;
use crate::sources::jmx::config::{self as jmx_config, TargetSettings};
use crate::sources::jmx::explorer::{Answer, Browse, explorer};
use crate::sources::jmx::model::{AttributeInfo, Value};
use crate::sources::jmx::tracked::{self, Tracked};
use crate::web::Ctx;
use crate::web::error::{WebError, WebResult};
use crate::web::format::urlencode;
use crate::web::page::PageCtx;
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::sync::OnceLock;
use std::time::Duration;

/// How long one explorer request may wait for the target.
const BUDGET: Duration = Duration::from_secs(10);

/// Every JMX target of the running config, read once.
fn targets(ctx: &Ctx) -> &'static [TargetSettings] {
    static T: OnceLock<Vec<TargetSettings>> = OnceLock::new();
    T.get_or_init(|| jmx_config::targets(&ctx.config))
}

fn find<'a>(ctx: &'a Ctx, address: &str, cluster: Option<&str>) -> WebResult<&'a TargetSettings> {
    let all: Vec<&TargetSettings> = targets(ctx)
        .iter()
        .filter(|t| t.address == address && cluster.is_none_or(|c| c == t.cluster))
        .collect();
    match all.as_slice() {
        [one] => Ok(one),
        [] => Err(WebError::NotFound(format!(
            "{address} is not a JMX target of {}",
            cluster.map_or("the config".to_string(), |c| format!("cluster {c}"))
        ))),
        _ => Err(WebError::BadRequest(format!(
            "{address} is a JMX target of several clusters: add ?cluster=<name>"
        ))),
    }
}

pub fn explore_path(t: &TargetSettings) -> String {
    format!(
        "/explore/{}?cluster={}",
        urlencode(&t.address),
        urlencode(&t.cluster)
    )
}

pub struct TargetLink {
    pub cluster: String,
    pub address: String,
    pub role: &'static str,
    pub client: String,
    pub href: String,
    pub tracked: usize,
}

#[derive(Template)]
#[template(path = "explore/list.html")]
pub struct ListPage {
    pub page: PageCtx,
    pub targets: Vec<TargetLink>,
}

pub(crate) async fn list(State(ctx): State<Ctx>) -> WebResult<Html<String>> {
    let targets = targets(&ctx)
        .iter()
        .map(|t| TargetLink {
            cluster: t.cluster.clone(),
            address: t.address.clone(),
            role: crate::sources::jmx::job(t.role),
            client: t.client.clone().unwrap_or_default(),
            href: explore_path(t),
            tracked: tracked::get(&t.cluster, &t.address).len(),
        })
        .collect();
    let range = TimeRange::last("1h", now_ms()).map_err(|e| WebError::Internal(e.to_string()))?;
    let mut page = PageCtx::new(&ctx, "MBeans", "explore", "/explore", range);
    page.picker = false;
    Ok(Html(ListPage { page, targets }.render()?))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ExploreQuery {
    pub cluster: Option<String>,
    pub domain: Option<String>,
    pub bean: Option<String>,
    /// A message after a track/untrack form (`tracked`, `removed`).
    pub done: Option<String>,
}

/// One line of the attribute table: composite items and tabular rows become their own lines,
/// indented under their attribute.
pub struct AttrLine {
    pub depth: usize,
    pub name: String,
    pub type_name: String,
    pub value: String,
    pub description: String,
    pub access: &'static str,
    /// Offered for tracking: a readable number at the top level.
    pub trackable: bool,
    pub is_tracked: bool,
    pub error: bool,
}

pub struct OpLine {
    pub name: String,
    pub signature: String,
    pub return_type: String,
    pub impact: String,
    pub description: String,
}

pub struct BeanView {
    pub name: String,
    pub class_name: String,
    pub description: String,
    pub attributes: Vec<AttrLine>,
    pub operations: Vec<OpLine>,
}

pub struct TrackedLine {
    pub bean: String,
    pub attribute: String,
    pub bean_href: String,
    pub added: String,
}

#[derive(Template)]
#[template(path = "explore/show.html")]
pub struct ShowPage {
    pub page: PageCtx,
    pub cluster: String,
    pub address: String,
    pub role: &'static str,
    pub base: String,
    pub error: Option<String>,
    pub done: Option<String>,
    pub domains: Vec<(String, usize, String, bool)>,
    pub domain: Option<String>,
    pub beans: Vec<(String, String, bool)>,
    pub bean: Option<BeanView>,
    pub tracked: Vec<TrackedLine>,
    pub can_track: bool,
    pub form_action: String,
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Number(n) => crate::web::format::format_number(*n),
        Value::Boolean(b) => b.to_string(),
        Value::Text(t) => t.clone(),
        Value::Composite(_) => "(composite)".into(),
        Value::Tabular(rows) => format!("(table, {} rows)", rows.len()),
        Value::Unsupported(t) => format!("({t})"),
        Value::Error(e) => e.clone(),
    }
}

fn lines(a: &AttributeInfo, tracked: &[Tracked], bean: &str, out: &mut Vec<AttrLine>) {
    let numeric = matches!(a.value, Value::Number(_) | Value::Boolean(_));
    out.push(AttrLine {
        depth: 0,
        name: a.name.clone(),
        type_name: a.type_name.clone(),
        value: show_value(&a.value),
        description: if a.description == a.name {
            String::new()
        } else {
            a.description.clone()
        },
        access: match (a.readable, a.writable) {
            (true, true) => "RW",
            (true, false) => "R",
            (false, true) => "W",
            (false, false) => "",
        },
        trackable: numeric && a.readable,
        is_tracked: tracked
            .iter()
            .any(|t| t.bean == bean && t.attribute == a.name),
        error: matches!(a.value, Value::Error(_)),
    });
    nested(&a.value, 1, out);
}

fn nested(v: &Value, depth: usize, out: &mut Vec<AttrLine>) {
    // Deeper levels are drawn at the deepest indent the stylesheet has.
    let depth = depth.min(3);
    let item = |name: String, v: &Value| AttrLine {
        depth,
        name,
        type_name: String::new(),
        value: show_value(v),
        description: String::new(),
        access: "",
        trackable: false,
        is_tracked: false,
        error: matches!(v, Value::Error(_)),
    };
    match v {
        Value::Composite(items) => {
            for (k, x) in items {
                out.push(item(k.clone(), x));
                nested(x, depth + 1, out);
            }
        }
        Value::Tabular(rows) => {
            for r in rows.iter().take(500) {
                let key = r
                    .index
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let value = match r.values.as_slice() {
                    [(_, only)] => show_value(only),
                    many => many
                        .iter()
                        .map(|(k, x)| format!("{k}={}", show_value(x)))
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                out.push(AttrLine {
                    value,
                    ..item(key, &Value::Text(String::new()))
                });
            }
        }
        _ => {}
    }
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path(address): Path<String>,
    Query(q): Query<ExploreQuery>,
) -> WebResult<Html<String>> {
    let t = find(&ctx, &address, q.cluster.as_deref())?;
    let base = explore_path(t);
    let tracked_list = tracked::get(&t.cluster, &t.address);
    let mut error = None;
    let mut domains = Vec::new();
    let mut beans = Vec::new();
    let mut bean = None;
    match explorer()
        .browse(&t.cluster, t, &Browse::Domains, BUDGET)
        .await
    {
        Ok(Answer::Domains(d)) => {
            domains = d
                .into_iter()
                .map(|(name, n)| {
                    let href = format!("{base}&domain={}", urlencode(&name));
                    let on = q.domain.as_deref() == Some(name.as_str());
                    (name, n, href, on)
                })
                .collect()
        }
        Ok(_) => {}
        Err(e) => error = Some(e),
    }
    let domain = q.domain.clone().or_else(|| {
        q.bean
            .as_deref()
            .and_then(|b| b.split_once(':').map(|(d, _)| d.to_string()))
    });
    if error.is_none()
        && let Some(d) = &domain
    {
        match explorer()
            .browse(&t.cluster, t, &Browse::Beans(d.clone()), BUDGET)
            .await
        {
            Ok(Answer::Beans(b)) => {
                beans = b
                    .into_iter()
                    .map(|name| {
                        let href =
                            format!("{base}&domain={}&bean={}", urlencode(d), urlencode(&name));
                        let on = q.bean.as_deref() == Some(name.as_str());
                        (name, href, on)
                    })
                    .collect()
            }
            Ok(_) => {}
            Err(e) => error = Some(e),
        }
    }
    if error.is_none()
        && let Some(b) = &q.bean
    {
        match explorer()
            .browse(&t.cluster, t, &Browse::Bean(b.clone()), BUDGET)
            .await
        {
            Ok(Answer::Bean(info)) => {
                let mut attributes = Vec::new();
                for a in &info.attributes {
                    lines(a, &tracked_list, &info.name, &mut attributes);
                }
                bean = Some(BeanView {
                    name: info.name.clone(),
                    class_name: info.class_name.clone(),
                    description: info.description.clone(),
                    attributes,
                    operations: info
                        .operations
                        .iter()
                        .map(|o| OpLine {
                            name: o.name.clone(),
                            signature: o
                                .parameters
                                .iter()
                                .map(|(n, t)| format!("{t} {n}"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            return_type: o.return_type.clone(),
                            impact: o.impact.clone(),
                            description: o.description.clone(),
                        })
                        .collect(),
                })
            }
            Ok(_) => {}
            Err(e) => error = Some(e),
        }
    }
    let tracked = tracked_list
        .iter()
        .map(|x| TrackedLine {
            bean: x.bean.clone(),
            attribute: x.attribute.clone(),
            bean_href: format!("{base}&bean={}", urlencode(&x.bean)),
            added: crate::web::format::utc(x.added_ms),
        })
        .collect();
    let range = TimeRange::last("1h", now_ms()).map_err(|e| WebError::Internal(e.to_string()))?;
    let mut page = PageCtx::new(
        &ctx,
        format!("MBeans of {}", t.address),
        "explore",
        format!("/explore/{}", urlencode(&t.address)),
        range,
    );
    page.picker = false;
    Ok(Html(
        ShowPage {
            page,
            cluster: t.cluster.clone(),
            address: t.address.clone(),
            role: crate::sources::jmx::job(t.role),
            form_action: format!("/explore/{}/track", urlencode(&t.address)),
            base,
            error,
            done: q.done.filter(|d| d == "tracked" || d == "removed"),
            domains,
            domain,
            beans,
            bean,
            tracked,
            can_track: ctx.config.server.write_token.is_some(),
        }
        .render()?,
    ))
}

/// The form of the track and untrack buttons.
#[derive(Debug, serde::Deserialize)]
pub struct TrackForm {
    pub cluster: String,
    pub bean: String,
    pub attribute: String,
    /// `track` or `untrack`.
    pub action: String,
    /// The server's write token, typed into the form (or sent as a bearer header).
    #[serde(default)]
    pub token: String,
}

/// `POST /explore/{target}/track`: adds (or with `action=untrack` removes) an attribute to the
/// target's tracked list, with the server's write token; answers with a redirect to the bean.
pub(crate) async fn track(
    State(ctx): State<Ctx>,
    Path(address): Path<String>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<TrackForm>,
) -> WebResult<Response> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let given = if f.token.is_empty() {
        bearer
    } else {
        f.token.as_str()
    };
    crate::web::api::check_write_token(&ctx, given)?;
    let t = find(&ctx, &address, Some(&f.cluster))?;
    let mut list = tracked::get(&t.cluster, &t.address);
    let done = match f.action.as_str() {
        "track" => {
            if f.bean.contains(['*', '?']) || !f.bean.contains(':') || f.attribute.is_empty() {
                return Err(WebError::BadRequest(
                    "track needs one bean's ObjectName (no pattern) and an attribute".into(),
                ));
            }
            if !list
                .iter()
                .any(|x| x.bean == f.bean && x.attribute == f.attribute)
            {
                if list.len() >= tracked::MAX_PER_TARGET {
                    return Err(WebError::BadRequest(format!(
                        "{} already tracks {} attributes, the most one target may",
                        t.address,
                        tracked::MAX_PER_TARGET
                    )));
                }
                list.push(Tracked {
                    bean: f.bean.clone(),
                    attribute: f.attribute.clone(),
                    added_ms: now_ms(),
                });
            }
            "tracked"
        }
        "untrack" => {
            list.retain(|x| !(x.bean == f.bean && x.attribute == f.attribute));
            "removed"
        }
        other => {
            return Err(WebError::BadRequest(format!(
                "action {other:?} is neither track nor untrack"
            )));
        }
    };
    ctx.store
        .put_document(
            &t.cluster,
            tracked::SUBJECT,
            &t.address,
            now_ms(),
            &tracked::to_json(&list),
        )
        .await
        .map_err(|e| WebError::Store(e.to_string()))?;
    tracked::set(&t.cluster, &t.address, list);
    let to = format!(
        "{}&bean={}&done={done}",
        explore_path(t),
        urlencode(&f.bean)
    );
    Ok(Redirect::to(&to).into_response())
}

/// Loads every target's tracked list from the store into the source's registry (at start-up).
pub async fn restore_tracked(
    store: &crate::store::Store,
    config: &crate::config::Config,
) -> Result<usize, String> {
    let mut n = 0;
    for cluster in &config.clusters {
        let docs = store
            .documents(&cluster.name, tracked::SUBJECT)
            .await
            .map_err(|e| e.to_string())?;
        for (address, _, body) in docs {
            let list = tracked::from_json(&body);
            n += list.len();
            tracked::set(&cluster.name, &address, list);
        }
    }
    Ok(n)
}
