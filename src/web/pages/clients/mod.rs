//! The client page `/clients`: Kafka producers and consumers read over JMX (Confluent's
//! kafka_client.yml names with `client_id`, see notes/jmx-contract), by client id.

mod list;

use super::Ctx;
use crate::web::sources::WebSource;
use axum::Router;
use axum::routing::get;

/// The JMX source's second navigation entry; its overview tile is the brokers' (one per source).
pub const WEB: WebSource = WebSource {
    key: "jmx",
    nav: Some(("clients", "Clients", "/clients")),
    routes,
    overview: |_, _, _, _| Box::pin(async { Ok(None) }),
    event_link: |_, _| None,
};

fn routes(router: Router<Ctx>) -> Router<Ctx> {
    router.route("/clients", get(list::list))
}
