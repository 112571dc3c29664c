//! One TCP connection to one broker: length framing, correlation ids, the ApiVersions handshake and
//! a deadline on every exchange.
//!
//! Requests on a connection are answered in order (the Kafka protocol guarantees it), so a batch
//! of requests is written and its responses read back concurrently ([`Connection::pipeline`]):
//! one round trip's latency for the whole batch, and no deadlock when both socket buffers fill.
//! Every failure says which broker and which API failed; a connection that failed is not reused.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    ListGroupsRequest, ListGroupsResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, OffsetFetchRequest, OffsetFetchResponse,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, StrBytes};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A request this client sends, with its API key and response type. (kafka-protocol's own
/// `Request` trait needs both directions' codecs, which only its `broker` feature builds.)
pub trait Request: Encodable + HeaderVersion + Message {
    const KEY: i16;
    type Response: Decodable + HeaderVersion;
}

macro_rules! requests {
    ($($req:ty => $resp:ty, $key:expr;)*) => {
        $(impl Request for $req {
            const KEY: i16 = $key as i16;
            type Response = $resp;
        })*
    };
}

requests! {
    ApiVersionsRequest => ApiVersionsResponse, ApiKey::ApiVersions;
    MetadataRequest => MetadataResponse, ApiKey::Metadata;
    ListGroupsRequest => ListGroupsResponse, ApiKey::ListGroups;
    DescribeGroupsRequest => DescribeGroupsResponse, ApiKey::DescribeGroups;
    FindCoordinatorRequest => FindCoordinatorResponse, ApiKey::FindCoordinator;
    OffsetFetchRequest => OffsetFetchResponse, ApiKey::OffsetFetch;
    ListOffsetsRequest => ListOffsetsResponse, ApiKey::ListOffsets;
    SaslHandshakeRequest => SaslHandshakeResponse, ApiKey::SaslHandshake;
    SaslAuthenticateRequest => SaslAuthenticateResponse, ApiKey::SaslAuthenticate;
    FetchRequest => FetchResponse, ApiKey::Fetch;
}

/// The largest response accepted: a metadata or offsets answer for a very large cluster fits
/// comfortably; a garbage length prefix does not allocate gigabytes.
pub const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// What went wrong talking to a broker. The text names the broker and the API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("{addr}: cannot connect: {message}")]
    Connect { addr: String, message: String },
    #[error("{addr}: {api}: no answer in time")]
    Timeout { addr: String, api: &'static str },
    #[error("{addr}: {api}: {message}")]
    Io {
        addr: String,
        api: &'static str,
        message: String,
    },
    #[error("{addr}: {api} v{version}: cannot decode the response: {message}")]
    Decode {
        addr: String,
        api: &'static str,
        version: i16,
        message: String,
    },
    #[error(
        "{addr}: {api}: the broker offers versions {broker_min} to {broker_max}, kafkascope needs one of {need_min} to {need_max}"
    )]
    Unsupported {
        addr: String,
        api: &'static str,
        broker_min: i16,
        broker_max: i16,
        need_min: i16,
        need_max: i16,
    },
    #[error("{addr}: {api}: the broker does not offer this API")]
    Missing { addr: String, api: &'static str },
    #[error("{addr}: {api}: {message}")]
    Broker {
        addr: String,
        api: &'static str,
        message: String,
    },
    /// Authentication failed; the message never holds the password.
    #[error("{addr}: SASL {mechanism}: {message}")]
    Sasl {
        addr: String,
        mechanism: &'static str,
        message: String,
    },
}

/// A Kafka error code as text: `NOT_COORDINATOR (16)`.
pub fn error_name(code: i16) -> String {
    match kafka_protocol::ResponseError::try_from_code(code) {
        None => "no error (0)".into(),
        Some(kafka_protocol::ResponseError::Unknown(c)) => format!("error code {c}"),
        Some(e) => format!("{} ({code})", screaming(&format!("{e:?}"))),
    }
}

/// `NotCoordinator` → `NOT_COORDINATOR`, the spelling Kafka's documentation and logs use.
fn screaming(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A short name of an API for messages.
pub fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(ApiKey::ApiVersions) => "ApiVersions",
        Ok(ApiKey::Metadata) => "Metadata",
        Ok(ApiKey::ListGroups) => "ListGroups",
        Ok(ApiKey::DescribeGroups) => "DescribeGroups",
        Ok(ApiKey::FindCoordinator) => "FindCoordinator",
        Ok(ApiKey::OffsetFetch) => "OffsetFetch",
        Ok(ApiKey::ListOffsets) => "ListOffsets",
        Ok(ApiKey::SaslHandshake) => "SaslHandshake",
        Ok(ApiKey::SaslAuthenticate) => "SaslAuthenticate",
        Ok(ApiKey::Fetch) => "Fetch",
        _ => "request",
    }
}

/// The versions a broker offers, per API key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiVersionTable(HashMap<i16, (i16, i16)>);

impl ApiVersionTable {
    pub fn from_response(r: &ApiVersionsResponse) -> Self {
        ApiVersionTable(
            r.api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect(),
        )
    }

    pub fn get(&self, key: i16) -> Option<(i16, i16)> {
        self.0.get(&key).copied()
    }
}

/// A byte stream to a broker: plain TCP or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// One open connection, after the ApiVersions handshake.
pub struct Connection {
    addr: String,
    stream: Box<dyn Io>,
    next_correlation: i32,
    client_id: StrBytes,
    versions: ApiVersionTable,
    /// Requests sent on every connection of a pool, for `kafka_scrape_requests`.
    sent: Arc<AtomicU64>,
    /// When a SASL session ends (the connection is replaced before then).
    session: super::sasl::Session,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Connection {
    /// Connects and negotiates versions; everything before `deadline`.
    pub async fn open(
        addr: &str,
        client_id: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        sent: Arc<AtomicU64>,
        deadline: Instant,
    ) -> Result<Connection, ClientError> {
        Self::open_with(addr, client_id, tls, None, sent, deadline).await
    }

    /// Connects, negotiates versions and, with `sasl`, authenticates before anything else is
    /// sent; everything before `deadline`.
    pub async fn open_with(
        addr: &str,
        client_id: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        sasl: Option<&super::sasl::SaslSettings>,
        sent: Arc<AtomicU64>,
        deadline: Instant,
    ) -> Result<Connection, ClientError> {
        let stream = tokio::time::timeout_at(deadline, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Connect {
                addr: addr.to_string(),
                message: "no connection in time".into(),
            })?
            .map_err(|e| ClientError::Connect {
                addr: addr.to_string(),
                message: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let stream: Box<dyn Io> = match tls {
            None => Box::new(stream),
            Some(config) => {
                let fail = |message: String| ClientError::Connect {
                    addr: addr.to_string(),
                    message,
                };
                // The certificate must name the host as written (a DNS name or an IP address).
                let host = addr
                    .rsplit_once(':')
                    .map_or(addr, |(h, _)| h)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| fail(format!("TLS: {host:?} is not a server name: {e}")))?;
                let tls = tokio_rustls::TlsConnector::from(config).connect(name, stream);
                let tls = tokio::time::timeout_at(deadline, tls)
                    .await
                    .map_err(|_| fail("no TLS handshake in time".into()))?
                    .map_err(|e| fail(format!("TLS: {e}")))?;
                Box::new(tls)
            }
        };
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            next_correlation: 1,
            client_id: StrBytes::from_string(client_id.to_string()),
            versions: ApiVersionTable::default(),
            sent,
            session: super::sasl::Session { expires: None },
        };
        conn.versions = conn.handshake(deadline).await?;
        if let Some(sasl) = sasl {
            conn.session = super::sasl::authenticate(&mut conn, sasl, deadline).await?;
        }
        Ok(conn)
    }

    /// True once the SASL session is (nearly) over: the connection must be replaced.
    pub fn session_expired(&self, now: Instant) -> bool {
        self.session.expired(now)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn versions(&self) -> &ApiVersionTable {
        &self.versions
    }

    /// ApiVersions v3; a broker too old for it answers in the v0 layout with
    /// UNSUPPORTED_VERSION (35), which is read as such.
    async fn handshake(&mut self, deadline: Instant) -> Result<ApiVersionTable, ClientError> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kafkascope"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let frames = self
            .exchange(
                ApiVersionsRequest::KEY,
                &[encode(&req, 3, self.next_correlation, &self.client_id)],
                3,
                deadline,
                0,
            )
            .await?;
        let frame = frames
            .into_iter()
            .next()
            .ok_or_else(|| self.io(ApiVersionsRequest::KEY, "no response"))?;
        let decoded = decode_body::<ApiVersionsResponse>(frame.clone(), 3)
            .ok()
            .filter(|r| r.error_code == 0);
        let response = match decoded {
            Some(r) => r,
            None => {
                decode_body::<ApiVersionsResponse>(frame, 0).map_err(|m| ClientError::Decode {
                    addr: self.addr.clone(),
                    api: "ApiVersions",
                    version: 0,
                    message: m,
                })?
            }
        };
        if response.error_code != 0 && response.api_keys.is_empty() {
            return Err(ClientError::Broker {
                addr: self.addr.clone(),
                api: "ApiVersions",
                message: error_name(response.error_code),
            });
        }
        Ok(ApiVersionTable::from_response(&response))
    }

    /// The version to use for `R`: the highest both sides know, at least `need_min`.
    pub fn version<R: Request>(&self, need_min: i16, our_max: i16) -> Result<i16, ClientError> {
        let api = api_name(R::KEY);
        let (bmin, bmax) = self
            .versions
            .get(R::KEY)
            .ok_or_else(|| ClientError::Missing {
                addr: self.addr.clone(),
                api,
            })?;
        let lo = need_min.max(R::VERSIONS.min).max(bmin);
        let hi = our_max.min(R::VERSIONS.max).min(bmax);
        if lo > hi {
            return Err(ClientError::Unsupported {
                addr: self.addr.clone(),
                api,
                broker_min: bmin,
                broker_max: bmax,
                need_min: need_min.max(R::VERSIONS.min),
                need_max: our_max.min(R::VERSIONS.max),
            });
        }
        Ok(hi)
    }

    /// Sends one request and decodes its response.
    pub async fn call<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        deadline: Instant,
    ) -> Result<R::Response, ClientError> {
        let mut out = self
            .pipeline(std::slice::from_ref(req), version, deadline)
            .await?;
        out.pop().ok_or_else(|| self.io(R::KEY, "no response"))
    }

    /// Sends every request, then reads their responses in order (while still writing).
    pub async fn pipeline<R: Request>(
        &mut self,
        reqs: &[R],
        version: i16,
        deadline: Instant,
    ) -> Result<Vec<R::Response>, ClientError> {
        let api = api_name(R::KEY);
        let first = self.next_correlation;
        let mut frames = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let id = first.wrapping_add(i as i32);
            let mut header = RequestHeader::default()
                .with_request_api_key(R::KEY)
                .with_request_api_version(version)
                .with_correlation_id(id);
            header.client_id = Some(self.client_id.clone());
            frames.push(
                frame_request(&header, R::header_version(version), r, version).map_err(|m| {
                    self.io(
                        R::KEY,
                        &format!("cannot encode the v{version} request: {m}"),
                    )
                })?,
            );
        }
        let bodies = self
            .exchange(
                R::KEY,
                &frames,
                version,
                deadline,
                R::Response::header_version(version),
            )
            .await?;
        let mut out = Vec::with_capacity(bodies.len());
        for body in bodies {
            out.push(decode_body::<R::Response>(body, version).map_err(|m| {
                ClientError::Decode {
                    addr: self.addr.clone(),
                    api,
                    version,
                    message: m,
                }
            })?);
        }
        Ok(out)
    }

    fn io(&self, key: i16, message: &str) -> ClientError {
        ClientError::Io {
            addr: self.addr.clone(),
            api: api_name(key),
            message: message.to_string(),
        }
    }

    /// Writes `frames` and reads as many responses, checking each correlation id; returns the
    /// response bodies (after the response header).
    async fn exchange(
        &mut self,
        key: i16,
        frames: &[Bytes],
        _version: i16,
        deadline: Instant,
        response_header_version: i16,
    ) -> Result<Vec<Bytes>, ClientError> {
        let api = api_name(key);
        let addr = self.addr.clone();
        let first = self.next_correlation;
        self.next_correlation = first.wrapping_add(frames.len() as i32);
        self.sent.fetch_add(frames.len() as u64, Ordering::Relaxed);
        let (mut rd, mut wr) = tokio::io::split(&mut self.stream);
        let write = async {
            for f in frames {
                wr.write_all(f).await?;
            }
            wr.flush().await
        };
        let read = read_responses(&mut rd, frames.len(), first, response_header_version);
        let both = async {
            let (w, r) = tokio::join!(write, read);
            match (w, r) {
                (_, Ok(out)) => Ok(out),
                (Err(e), Err(_)) => Err(format!("cannot send: {e}")),
                (Ok(()), Err(e)) => Err(e),
            }
        };
        let started = std::time::Instant::now();
        let result = tokio::time::timeout_at(deadline, both).await;
        tracing::debug!(
            broker = %addr,
            api,
            requests = frames.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            ok = matches!(result, Ok(Ok(_))),
            "Kafka exchange."
        );
        match result {
            Err(_) => Err(ClientError::Timeout { addr, api }),
            Ok(Err(message)) => Err(ClientError::Io { addr, api, message }),
            Ok(Ok(out)) => Ok(out),
        }
    }
}

/// Reads `count` responses (length, header, body), checking each correlation id from `first` on;
/// returns the bodies after the header.
pub async fn read_responses<R: tokio::io::AsyncRead + Unpin>(
    rd: &mut R,
    count: usize,
    first: i32,
    response_header_version: i16,
) -> Result<Vec<Bytes>, String> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let len = match rd.read_i32().await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(format!(
                    "the broker closed the connection{}",
                    if i == 0 {
                        " before answering"
                    } else {
                        " between responses"
                    }
                ));
            }
            Err(e) => return Err(e.to_string()),
        };
        if len < 4 || len as usize > MAX_RESPONSE_BYTES {
            return Err(format!(
                "response length {len} is not a Kafka response (must be 4 to {MAX_RESPONSE_BYTES} bytes)"
            ));
        }
        let mut buf = BytesMut::zeroed(len as usize);
        if let Err(e) = rd.read_exact(&mut buf).await {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!("the broker closed the connection mid-response ({len} bytes announced)")
            } else {
                e.to_string()
            });
        }
        let mut body = buf.freeze();
        let header = ResponseHeader::decode(&mut body, response_header_version)
            .map_err(|e| format!("cannot decode the response header: {e}"))?;
        let want = first.wrapping_add(i as i32);
        if header.correlation_id != want {
            return Err(format!(
                "response for correlation id {} where {want} was expected",
                header.correlation_id
            ));
        }
        out.push(body);
    }
    Ok(out)
}

/// A request as bytes on the wire: length, header, body.
fn frame_request<R: Encodable>(
    header: &RequestHeader,
    header_version: i16,
    req: &R,
    version: i16,
) -> Result<Bytes, String> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| e.to_string())?;
    req.encode(&mut buf, version).map_err(|e| e.to_string())?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// The ApiVersions request framed by hand (the handshake runs before versions are known).
fn encode(req: &ApiVersionsRequest, version: i16, correlation: i32, client_id: &StrBytes) -> Bytes {
    let mut header = RequestHeader::default()
        .with_request_api_key(ApiVersionsRequest::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation);
    header.client_id = Some(client_id.clone());
    // Encoding a default ApiVersions request with known fields cannot fail for v3.
    frame_request(
        &header,
        ApiVersionsRequest::header_version(version),
        req,
        version,
    )
    .unwrap_or_default()
}

/// Decodes a response body, refusing trailing bytes (a sign of a version mismatch).
pub fn decode_body<T: Decodable>(mut body: Bytes, version: i16) -> Result<T, String> {
    let v = T::decode(&mut body, version).map_err(|e| e.to_string())?;
    if body.has_remaining() {
        return Err(format!(
            "{} bytes left over after the response",
            body.remaining()
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::net::TcpListener;

    /// An ApiVersions v0 response body offering `keys` (api, min, max).
    fn api_versions_v0(correlation: i32, keys: &[(i16, i16, i16)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&correlation.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&(keys.len() as i32).to_be_bytes());
        for (k, lo, hi) in keys {
            b.extend_from_slice(&k.to_be_bytes());
            b.extend_from_slice(&lo.to_be_bytes());
            b.extend_from_slice(&hi.to_be_bytes());
        }
        let mut framed = (b.len() as i32).to_be_bytes().to_vec();
        framed.extend(b);
        framed
    }

    async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
        let n = s.read_i32().await.unwrap();
        let mut b = vec![0; n as usize];
        s.read_exact(&mut b).await.unwrap();
        b
    }

    /// A peer that answers ApiVersions (in the v0 layout with UNSUPPORTED_VERSION, as an old
    /// broker does) and then runs `then` on the connection.
    async fn fake_broker<F, Fut>(keys: Vec<(i16, i16, i16)>, then: F) -> String
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let req = read_frame(&mut s).await;
            let corr = i32::from_be_bytes([req[4], req[5], req[6], req[7]]);
            let mut resp = api_versions_v0(corr, &keys);
            // UNSUPPORTED_VERSION: the client asked v3, this broker answers in v0.
            resp[8..10].copy_from_slice(&35i16.to_be_bytes());
            s.write_all(&resp).await.unwrap();
            then(s).await;
        });
        addr
    }

    fn deadline() -> Instant {
        Instant::now() + std::time::Duration::from_secs(10)
    }

    #[tokio::test]
    async fn an_old_broker_answers_apiversions_in_v0_and_an_api_it_lacks_is_named() {
        let addr = fake_broker(vec![(18, 0, 2), (2, 0, 0), (3, 0, 5)], |_s| async {}).await;
        let c = Connection::open(&addr, "t", None, Default::default(), deadline())
            .await
            .unwrap();
        assert_eq!(c.versions().get(3), Some((0, 5)));
        // ListOffsets only in v0, which omits offsets: refused with both ranges named.
        let e = c.version::<ListOffsetsRequest>(1, 9).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{addr}: ListOffsets: the broker offers versions 0 to 0, kafkascope needs one of 1 to 9"
            )
        );
        // Positive control: Metadata is offered and negotiated to the broker's maximum.
        assert_eq!(
            c.version::<kafka_protocol::messages::MetadataRequest>(1, 12)
                .unwrap(),
            5
        );
        let e = c
            .version::<kafka_protocol::messages::OffsetFetchRequest>(1, 9)
            .unwrap_err();
        assert!(e.to_string().contains("does not offer this API"), "{e}");
    }

    #[tokio::test]
    async fn a_broker_that_closes_mid_response_is_a_clear_error() {
        let addr = fake_broker(vec![(18, 0, 2), (2, 1, 5)], |mut s| async move {
            let _ = read_frame(&mut s).await;
            // Announce 100 bytes, send 6, close.
            s.write_all(&100i32.to_be_bytes()).await.unwrap();
            s.write_all(&[0, 0, 0, 1, 0, 0]).await.unwrap();
        })
        .await;
        let mut c = Connection::open(&addr, "t", None, Default::default(), deadline())
            .await
            .unwrap();
        let v = c.version::<ListOffsetsRequest>(1, 9).unwrap();
        let e = c
            .call(&ListOffsetsRequest::default(), v, deadline())
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{addr}: ListOffsets: the broker closed the connection mid-response (100 bytes announced)"
            )
        );
    }

    #[tokio::test]
    async fn junk_and_silence_are_errors_not_hangs() {
        // A length prefix far beyond any response.
        let addr = fake_broker(vec![(18, 0, 2), (2, 1, 5)], |mut s| async move {
            let _ = read_frame(&mut s).await;
            s.write_all(&i32::MAX.to_be_bytes()).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        })
        .await;
        let mut c = Connection::open(&addr, "t", None, Default::default(), deadline())
            .await
            .unwrap();
        let e = c
            .call(&ListOffsetsRequest::default(), 1, deadline())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("is not a Kafka response"), "{e}");
        // A broker that never answers: the deadline ends the wait.
        let addr = fake_broker(vec![(18, 0, 2), (2, 1, 5)], |mut s| async move {
            let _ = read_frame(&mut s).await;
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        })
        .await;
        let mut c = Connection::open(&addr, "t", None, Default::default(), deadline())
            .await
            .unwrap();
        let short = Instant::now() + std::time::Duration::from_millis(300);
        let e = c
            .call(&ListOffsetsRequest::default(), 1, short)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ClientError::Timeout {
                addr: addr.clone(),
                api: "ListOffsets"
            }
        );
        // A wrong correlation id.
        let addr = fake_broker(vec![(18, 0, 2), (2, 1, 5)], |mut s| async move {
            let _ = read_frame(&mut s).await;
            let mut body = 999i32.to_be_bytes().to_vec();
            body.extend_from_slice(&0i32.to_be_bytes());
            s.write_all(&(body.len() as i32).to_be_bytes())
                .await
                .unwrap();
            s.write_all(&body).await.unwrap();
        })
        .await;
        let mut c = Connection::open(&addr, "t", None, Default::default(), deadline())
            .await
            .unwrap();
        let e = c
            .call(&ListOffsetsRequest::default(), 1, deadline())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("correlation id 999"), "{e}");
    }

    #[test]
    fn error_codes_read_as_kafka_names_them() {
        assert_eq!(error_name(16), "NOT_COORDINATOR (16)");
        assert_eq!(error_name(69), "GROUP_ID_NOT_FOUND (69)");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR (-1)");
        assert_eq!(error_name(9999), "error code 9999");
    }

    proptest! {
        /// Our framing on arbitrary bytes: an error or frames, never a panic. (The bodies are
        /// decoded by kafka-protocol, whose array decoder reserves the announced length before
        /// reading: a broker announcing billions of elements can exhaust memory. Brokers are
        /// trusted peers here; see the README.)
        #[test]
        fn framing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), n in 1usize..4, hv in 0i16..2) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut rd: &[u8] = &bytes;
            let _ = rt.block_on(read_responses(&mut rd, n, 0, hv));
        }

        #[test]
        fn well_framed_responses_come_back_in_order(bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..5)) {
            let mut wire = Vec::new();
            for (i, b) in bodies.iter().enumerate() {
                wire.extend_from_slice(&((b.len() + 4) as i32).to_be_bytes());
                wire.extend_from_slice(&(7 + i as i32).to_be_bytes());
                wire.extend_from_slice(b);
            }
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut rd: &[u8] = &wire;
            let got = rt.block_on(read_responses(&mut rd, bodies.len(), 7, 0)).unwrap();
            let got: Vec<Vec<u8>> = got.iter().map(|b| b.to_vec()).collect();
            prop_assert_eq!(got, bodies);
        }
    }
}
