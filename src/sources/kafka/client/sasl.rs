//! SASL authentication of a new broker connection, before any other request but ApiVersions:
//! SaslHandshake v1 names the mechanism, then SaslAuthenticate (v0–v2, as the broker offers)
//! carries PLAIN (RFC 4616) or SCRAM-SHA-256/512 (RFC 5802, RFC 7677) messages.
//!
//! Every error names the broker and the mechanism and never the password: our own texts do not
//! contain it, and a broker's error message is scrubbed of it before it is passed on.
//! Re-authentication (KIP-368) is not done: a connection is reopened, and so authenticated anew,
//! before the session lifetime the broker announced runs out (see [`Session`]).

use super::connection::{ClientError, Connection, error_name};
use crate::config::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// The mechanisms this client speaks, by their IANA names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    pub const ALL: [Mechanism; 3] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The IANA name, in any case.
    pub fn parse(s: &str) -> Option<Mechanism> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// Where the password comes from.
#[derive(Clone)]
pub enum Password {
    Inline(Secret),
    /// Read at every new connection, so a rotated password is picked up.
    File(PathBuf),
}

/// `[clusters.kafka] sasl`, validated.
#[derive(Clone)]
pub struct SaslSettings {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: Password,
}

impl std::fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = match &self.password {
            Password::Inline(_) => "inline ***".to_string(),
            Password::File(p) => format!("file {}", p.display()),
        };
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism.name())
            .field("username", &self.username)
            .field("password", &from)
            .finish()
    }
}

impl SaslSettings {
    /// The password now: inline, or the password file's content without its trailing line end.
    pub fn password(&self) -> Result<Secret, String> {
        match &self.password {
            Password::Inline(s) => Ok(s.clone()),
            Password::File(path) => read_password_file(path),
        }
    }
}

/// A password file's content without the line end an editor adds; an empty one is refused.
/// Errors name the file, never its content.
pub fn read_password_file(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(format!("the password file {} is empty", path.display()));
    }
    Ok(Secret::new(password))
}

/// When an authenticated connection must be replaced: the broker's session lifetime, less a
/// margin so a request in flight does not meet the broker closing the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub expires: Option<Instant>,
}

impl Session {
    fn from_lifetime_ms(now: Instant, ms: i64) -> Session {
        if ms <= 0 {
            return Session { expires: None };
        }
        let life = Duration::from_millis(ms as u64);
        // Reopen at 80% of the lifetime, and never later than 10 s before its end.
        let early = (life / 5).max(Duration::from_secs(10)).min(life);
        Session {
            expires: Some(now + (life - early)),
        }
    }

    pub fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

/// Authenticates `conn` (after its ApiVersions handshake); errors name broker and mechanism.
pub async fn authenticate(
    conn: &mut Connection,
    sasl: &SaslSettings,
    deadline: Instant,
) -> Result<Session, ClientError> {
    let mech = sasl.mechanism;
    let addr = conn.addr().to_string();
    let fail = |message: String| ClientError::Sasl {
        addr: addr.clone(),
        mechanism: mech.name(),
        message,
    };
    let password = sasl.password().map_err(fail)?;
    let scrub = |text: &str| scrub(text, password.expose());
    let inner = |e: ClientError| fail(scrub(&strip_addr(&e, &addr)));

    // SaslHandshake v1: v0 would mean raw SASL tokens without Kafka framing, which no broker
    // since Kafka 1.0 needs.
    let version = conn
        .version::<SaslHandshakeRequest>(1, 1)
        .map_err(|e| match e {
            ClientError::Missing { .. } => fail(
                "the broker does not offer SaslHandshake: is this a SASL listener (SASL_PLAINTEXT or SASL_SSL)?"
                    .into(),
            ),
            other => inner(other),
        })?;
    let req =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mech.name()));
    let resp = conn.call(&req, version, deadline).await.map_err(inner)?;
    if resp.error_code != 0 {
        let offered: Vec<String> = resp.mechanisms.iter().map(|m| scrub(m)).collect();
        let mut text = format!(
            "SaslHandshake: the broker refuses this mechanism ({}); it offers: {}",
            error_name(resp.error_code),
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered.join(", ")
            }
        );
        if offered.iter().any(|m| m == mech.name()) {
            text.push_str(
                " (it lists the mechanism it refuses: is SASL enabled on this listener, and are users configured?)",
            );
        }
        return Err(fail(text));
    }

    let auth_version = conn
        .version::<SaslAuthenticateRequest>(0, 2)
        .map_err(inner)?;
    let mut exchange = Exchange {
        conn,
        version: auth_version,
        deadline,
        username: &sasl.username,
    };
    let lifetime_ms = match mech {
        Mechanism::Plain => {
            exchange
                .step(plain_message(&sasl.username, password.expose()))
                .await
                .map_err(|e| e.into_error(&inner, &fail, &scrub))?
                .1
        }
        Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
            let hash = if mech == Mechanism::ScramSha256 {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            let nonce = new_nonce().map_err(fail)?;
            let mut scram = ScramClient::new(hash, &sasl.username, password.expose(), nonce);
            let (server_first, _) = exchange
                .step(scram.client_first().into_bytes())
                .await
                .map_err(|e| e.into_error(&inner, &fail, &scrub))?;
            let client_final = scram
                .server_first(&server_first)
                .map_err(|e| fail(scrub(&e.to_string())))?;
            let (server_final, lifetime_ms) = exchange
                .step(client_final.into_bytes())
                .await
                .map_err(|e| e.into_error(&inner, &fail, &scrub))?;
            scram
                .server_final(&server_final)
                .map_err(|e| fail(scrub(&e.to_string())))?;
            lifetime_ms
        }
    };
    tracing::debug!(
        broker = %addr,
        mechanism = mech.name(),
        user = %sasl.username,
        session_lifetime_ms = lifetime_ms,
        "SASL authenticated."
    );
    Ok(Session::from_lifetime_ms(Instant::now(), lifetime_ms))
}

/// The SaslAuthenticate round trips of one authentication.
struct Exchange<'a> {
    conn: &'a mut Connection,
    version: i16,
    deadline: Instant,
    username: &'a str,
}

/// A failed round trip: the transport, or the broker's refusal.
enum StepError {
    Client(ClientError),
    Refused {
        code: i16,
        message: Option<String>,
        username: String,
    },
}

impl StepError {
    fn into_error(
        self,
        inner: &dyn Fn(ClientError) -> ClientError,
        fail: &dyn Fn(String) -> ClientError,
        scrub: &dyn Fn(&str) -> String,
    ) -> ClientError {
        match self {
            StepError::Client(e) => inner(e),
            StepError::Refused {
                code,
                message,
                username,
            } => {
                let said = message
                    .map(|m| format!(": {}", scrub(&printable(&m))))
                    .unwrap_or_default();
                fail(format!(
                    "SaslAuthenticate: the broker refuses the credentials of user {username:?} ({}){said}",
                    error_name(code)
                ))
            }
        }
    }
}

impl Exchange<'_> {
    /// Sends one SASL message; returns the broker's answer and the session lifetime it states.
    async fn step(&mut self, bytes: Vec<u8>) -> Result<(Bytes, i64), StepError> {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes));
        let resp = self
            .conn
            .call(&req, self.version, self.deadline)
            .await
            .map_err(StepError::Client)?;
        if resp.error_code != 0 {
            return Err(StepError::Refused {
                code: resp.error_code,
                message: resp.error_message.map(|m| m.to_string()),
                username: self.username.to_string(),
            });
        }
        Ok((resp.auth_bytes, resp.session_lifetime_ms))
    }
}

/// An error's text without the leading `addr: ` (the SASL error adds it back once).
fn strip_addr(e: &ClientError, addr: &str) -> String {
    let text = e.to_string();
    text.strip_prefix(&format!("{addr}: "))
        .map(str::to_string)
        .unwrap_or(text)
}

/// `text` with every occurrence of the password replaced: a broker may echo what it was sent.
fn scrub(text: &str, password: &str) -> String {
    if password.is_empty() {
        text.to_string()
    } else {
        text.replace(password, "***")
    }
}

/// PLAIN's one message: empty authorization id, NUL, user, NUL, password (RFC 4616).
pub fn plain_message(username: &str, password: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(username.len() + password.len() + 2);
    m.push(0);
    m.extend_from_slice(username.as_bytes());
    m.push(0);
    m.extend_from_slice(password.as_bytes());
    m
}

/// 24 random bytes as base64: printable and free of `,`, as RFC 5802 wants.
fn new_nonce() -> Result<String, String> {
    let mut raw = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| "the system random generator failed".to_string())?;
    Ok(B64.encode(raw))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            ScramHash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            ScramHash::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            ScramHash::Sha256 => hmac::HMAC_SHA256,
            ScramHash::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            ScramHash::Sha256 => &digest::SHA256,
            ScramHash::Sha512 => &digest::SHA512,
        }
    }

    fn len(self) -> usize {
        self.digest().output_len()
    }
}

/// The iteration counts accepted from a broker: RFC 7677 asks for at least 4096; the ceiling
/// keeps a broker from making every connection spend seconds in PBKDF2.
pub const MIN_ITERATIONS: u32 = 4096;
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// What went wrong in a SCRAM exchange. No variant carries the password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("the broker's {0} message is not UTF-8")]
    NotUtf8(&'static str),
    #[error("the broker's {which} message is malformed: {why}")]
    Malformed { which: &'static str, why: String },
    #[error("the broker's nonce does not extend ours (a replayed or foreign answer)")]
    Nonce,
    #[error(
        "the broker asks for {0} PBKDF2 iterations; kafkascope accepts {MIN_ITERATIONS} to {MAX_ITERATIONS}"
    )]
    Iterations(u64),
    #[error("the broker requires a SCRAM extension kafkascope does not know ({0})")]
    Extension(String),
    #[error("the broker rejects the authentication: {0} (a wrong username or password?)")]
    Rejected(String),
    #[error(
        "the broker's server signature is wrong: it does not know this password, or is not the broker it claims to be"
    )]
    Signature,
    #[error("server-final before server-first")]
    OutOfOrder,
}

/// The client side of one SCRAM exchange.
pub struct ScramClient {
    hash: ScramHash,
    password: Secret,
    nonce: String,
    first_bare: String,
    /// After server-first: the ServerKey and the AuthMessage the server must sign.
    expect: Option<(hmac::Key, String)>,
}

impl ScramClient {
    pub fn new(hash: ScramHash, username: &str, password: &str, nonce: String) -> Self {
        let first_bare = format!("n={},r={nonce}", saslname(username));
        ScramClient {
            hash,
            password: Secret::new(password),
            nonce,
            first_bare,
            expect: None,
        }
    }

    /// client-first-message: no channel binding, no authorization id.
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.first_bare)
    }

    /// Reads server-first-message and returns client-final-message (with the proof).
    pub fn server_first(&mut self, msg: &[u8]) -> Result<String, ScramError> {
        let first = ServerFirst::parse(msg)?;
        if !first.nonce.starts_with(&self.nonce) || first.nonce.len() <= self.nonce.len() {
            return Err(ScramError::Nonce);
        }
        let server_first =
            std::str::from_utf8(msg).map_err(|_| ScramError::NotUtf8("server-first"))?;
        let h = self.hash;
        let mut salted = vec![0u8; h.len()];
        pbkdf2::derive(
            h.pbkdf2(),
            first.iterations,
            &first.salt,
            self.password.expose().as_bytes(),
            &mut salted,
        );
        let salted = hmac::Key::new(h.hmac(), &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(h.digest(), client_key.as_ref());
        // c=biws is base64("n,,"): the GS2 header of client-first.
        let without_proof = format!("c=biws,r={}", first.nonce);
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let client_signature = hmac::sign(
            &hmac::Key::new(h.hmac(), stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(client_signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac::sign(&salted, b"Server Key");
        self.expect = Some((hmac::Key::new(h.hmac(), server_key.as_ref()), auth_message));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks server-final-message: the server's signature proves it knows the password too.
    pub fn server_final(&self, msg: &[u8]) -> Result<(), ScramError> {
        let (server_key, auth_message) = self.expect.as_ref().ok_or(ScramError::OutOfOrder)?;
        match ServerFinal::parse(msg)? {
            ServerFinal::Error(e) => Err(ScramError::Rejected(e)),
            ServerFinal::Verifier(v) => hmac::verify(server_key, auth_message.as_bytes(), &v)
                .map_err(|_| ScramError::Signature),
        }
    }
}

/// A username as a SCRAM `saslname`: `=` and `,` escaped.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// server-first-message: `[m=...,]r=NONCE,s=SALT,i=COUNT[,extensions]`.
#[derive(Debug, PartialEq, Eq)]
pub struct ServerFirst {
    pub nonce: String,
    pub salt: Vec<u8>,
    pub iterations: NonZeroU32,
}

impl ServerFirst {
    pub fn parse(msg: &[u8]) -> Result<ServerFirst, ScramError> {
        const W: &str = "server-first";
        let bad = |why: &str| ScramError::Malformed {
            which: W,
            why: why.to_string(),
        };
        let text = std::str::from_utf8(msg).map_err(|_| ScramError::NotUtf8(W))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(ScramError::Rejected(printable(e)));
        }
        if text.starts_with("m=") {
            return Err(ScramError::Extension(printable(
                text.split(',').next().unwrap_or(""),
            )));
        }
        let mut parts = text.split(',');
        let mut attr = |name: &str| {
            parts
                .next()
                .and_then(|p| p.strip_prefix(name))
                .ok_or_else(|| bad(&format!("no {name} attribute where expected")))
        };
        let nonce = attr("r=")?;
        let salt = attr("s=")?;
        let iterations = attr("i=")?;
        if nonce.is_empty()
            || !nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        {
            return Err(bad("the nonce is empty or not printable"));
        }
        let salt = B64
            .decode(salt)
            .map_err(|_| bad("the salt is not base64"))?;
        if salt.is_empty() {
            return Err(bad("the salt is empty"));
        }
        let n: u64 = iterations
            .parse()
            .ok()
            .filter(|_| iterations.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad("the iteration count is not a number"))?;
        if !(u64::from(MIN_ITERATIONS)..=u64::from(MAX_ITERATIONS)).contains(&n) {
            return Err(ScramError::Iterations(n));
        }
        let iterations = u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or(ScramError::Iterations(n))?;
        Ok(ServerFirst {
            nonce: nonce.to_string(),
            salt,
            iterations,
        })
    }
}

/// server-final-message: `v=SIGNATURE` or `e=ERROR`, extensions ignored.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerFinal {
    Verifier(Vec<u8>),
    Error(String),
}

impl ServerFinal {
    pub fn parse(msg: &[u8]) -> Result<ServerFinal, ScramError> {
        const W: &str = "server-final";
        let text = std::str::from_utf8(msg).map_err(|_| ScramError::NotUtf8(W))?;
        let first = text.split(',').next().unwrap_or("");
        if let Some(e) = first.strip_prefix("e=") {
            return Ok(ServerFinal::Error(printable(e)));
        }
        let v = first
            .strip_prefix("v=")
            .ok_or_else(|| ScramError::Malformed {
                which: W,
                why: "neither v= nor e=".into(),
            })?;
        B64.decode(v)
            .map(ServerFinal::Verifier)
            .map_err(|_| ScramError::Malformed {
                which: W,
                why: "the signature is not base64".into(),
            })
    }
}

/// A broker's word for an error, printable and at most 300 characters (Kafka's own run to ~150).
fn printable(s: &str) -> String {
    s.chars()
        .take(300)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 7677 section 3: SCRAM-SHA-256, user "user", password "pencil".
    #[test]
    fn scram_sha256_matches_rfc_7677() {
        let mut c = ScramClient::new(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            c.server_first(server_first).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        // Negative controls: one changed byte of the signature, and the server's error.
        assert_eq!(
            c.server_final(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(ScramError::Signature)
        );
        assert_eq!(
            c.server_final(b"e=invalid-proof"),
            Err(ScramError::Rejected("invalid-proof".into()))
        );
        // Another password gives another proof for the same exchange.
        let mut wrong = ScramClient::new(
            ScramHash::Sha256,
            "user",
            "pencil2",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        let proof = wrong.server_first(server_first).unwrap();
        assert!(
            !proof.ends_with("p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            "{proof}"
        );
        assert_eq!(
            wrong.server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(ScramError::Signature)
        );
    }

    /// SCRAM-SHA-512 against a server side computed here from the RFC 5802 definitions (the
    /// stored key and server key a broker keeps), so both hashes run the same code path.
    #[test]
    fn scram_sha512_verifies_against_the_server_side_formulas() {
        let (user, password, salt, i) = ("monitor", "s3cret,=x", b"saltsaltsalt", 8192u32);
        let mut c = ScramClient::new(ScramHash::Sha512, user, password, "abc".into());
        assert_eq!(c.client_first(), "n,,n=monitor,r=abc");
        let server_first = format!("r=abcXYZ,s={},i={i}", B64.encode(salt));
        let client_final = c.server_first(server_first.as_bytes()).unwrap();
        // The server's view: StoredKey and ServerKey only.
        let mut salted = [0u8; 64];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA512,
            NonZeroU32::new(i).unwrap(),
            salt,
            password.as_bytes(),
            &mut salted,
        );
        let salted = hmac::Key::new(hmac::HMAC_SHA512, &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA512, client_key.as_ref());
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        assert_eq!(without_proof, "c=biws,r=abcXYZ");
        let auth = format!("n=monitor,r=abc,{server_first},{without_proof}");
        let sig = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA512, stored_key.as_ref()),
            auth.as_bytes(),
        );
        let recovered: Vec<u8> = B64
            .decode(proof)
            .unwrap()
            .iter()
            .zip(sig.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(
            digest::digest(&digest::SHA512, &recovered).as_ref(),
            stored_key.as_ref(),
            "the proof carries the client key"
        );
        let server_key = hmac::sign(&salted, b"Server Key");
        let v = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA512, server_key.as_ref()),
            auth.as_bytes(),
        );
        c.server_final(format!("v={}", B64.encode(v.as_ref())).as_bytes())
            .unwrap();
    }

    #[test]
    fn usernames_are_escaped_and_plain_is_nul_separated() {
        let c = ScramClient::new(ScramHash::Sha256, "a=b,c", "p", "n".into());
        assert_eq!(c.client_first(), "n,,n=a=3Db=2Cc,r=n");
        assert_eq!(plain_message("monitor", "pw"), b"\0monitor\0pw".to_vec());
    }

    #[test]
    fn bad_server_messages_are_named() {
        let mut c = ScramClient::new(ScramHash::Sha256, "u", "p", "abc".into());
        assert_eq!(c.server_final(b"v=AAAA"), Err(ScramError::OutOfOrder));
        for (msg, want) in [
            (&b"r=xyz1,s=AAAA,i=4096"[..], ScramError::Nonce),
            (b"r=abc,s=AAAA,i=4096", ScramError::Nonce),
            (b"r=abcd,s=AAAA,i=4095", ScramError::Iterations(4095)),
            (
                b"r=abcd,s=AAAA,i=99999999999",
                ScramError::Iterations(99999999999),
            ),
            (
                b"e=unknown-user",
                ScramError::Rejected("unknown-user".into()),
            ),
            (
                b"m=foo,r=abcd,s=AAAA,i=4096",
                ScramError::Extension("m=foo".into()),
            ),
            (b"\xff", ScramError::NotUtf8("server-first")),
        ] {
            assert_eq!(c.server_first(msg), Err(want), "{msg:?}");
        }
        for msg in [
            &b"s=AAAA,r=abcd,i=4096"[..],
            b"r=abcd,s=!!,i=4096",
            b"r=abcd,s=,i=4096",
            b"r=abcd,s=AAAA,i=+4096",
            b"r=abcd,s=AAAA",
        ] {
            assert!(
                matches!(c.server_first(msg), Err(ScramError::Malformed { .. })),
                "{msg:?}"
            );
        }
        // Positive control: the same shape with good values passes.
        assert!(c.server_first(b"r=abcd,s=AAAA,i=4096,x=ext").is_ok());
        assert!(matches!(
            ServerFinal::parse(b"x=1"),
            Err(ScramError::Malformed { .. })
        ));
    }

    #[test]
    fn sessions_end_before_the_brokers_lifetime() {
        let now = Instant::now();
        assert_eq!(Session::from_lifetime_ms(now, 0).expires, None);
        let s = Session::from_lifetime_ms(now, 60_000);
        assert_eq!(s.expires, Some(now + Duration::from_secs(48)));
        assert!(!s.expired(now + Duration::from_secs(47)));
        assert!(s.expired(now + Duration::from_secs(48)));
        // Shorter than the 10 s margin: reopened at once rather than late.
        let s = Session::from_lifetime_ms(now, 5_000);
        assert_eq!(s.expires, Some(now));
    }

    #[test]
    fn mechanisms_parse_by_their_names() {
        assert_eq!(
            Mechanism::parse("scram-sha-512"),
            Some(Mechanism::ScramSha512)
        );
        assert_eq!(Mechanism::parse("PLAIN"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::parse("GSSAPI"), None);
        let s = SaslSettings {
            mechanism: Mechanism::Plain,
            username: "u".into(),
            password: Password::Inline(Secret::new("hunter2")),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(scrub("bad hunter2 here", "hunter2"), "bad *** here");
    }

    /// A peer that answers ApiVersions (v0 layout: SaslHandshake 0-1, SaslAuthenticate 0-2),
    /// then the SaslHandshake with `handshake` (error code, mechanisms) unless it is None, and
    /// then stays silent.
    async fn silent_after(handshake: Option<(i16, Vec<&'static str>)>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let corr = async |s: &mut tokio::net::TcpStream| {
                let n = s.read_i32().await.unwrap();
                let mut b = vec![0; n as usize];
                s.read_exact(&mut b).await.unwrap();
                b[4..8].to_vec()
            };
            let c = corr(&mut s).await;
            let mut body = c.clone();
            body.extend_from_slice(&35i16.to_be_bytes()); // UNSUPPORTED_VERSION: v0 layout
            body.extend_from_slice(&2i32.to_be_bytes());
            for (k, lo, hi) in [(17i16, 0i16, 1i16), (36, 0, 2)] {
                for v in [k, lo, hi] {
                    body.extend_from_slice(&v.to_be_bytes());
                }
            }
            s.write_all(&(body.len() as i32).to_be_bytes())
                .await
                .unwrap();
            s.write_all(&body).await.unwrap();
            let c = corr(&mut s).await;
            if let Some((code, mechs)) = handshake {
                let mut body = c;
                body.extend_from_slice(&code.to_be_bytes());
                body.extend_from_slice(&(mechs.len() as i32).to_be_bytes());
                for m in mechs {
                    body.extend_from_slice(&(m.len() as i16).to_be_bytes());
                    body.extend_from_slice(m.as_bytes());
                }
                s.write_all(&(body.len() as i32).to_be_bytes())
                    .await
                    .unwrap();
                s.write_all(&body).await.unwrap();
                let _ = corr(&mut s).await;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        addr
    }

    fn settings(mechanism: Mechanism) -> SaslSettings {
        SaslSettings {
            mechanism,
            username: "monitor".into(),
            password: Password::Inline(Secret::new("hunter2")),
        }
    }

    #[tokio::test]
    async fn a_broker_that_does_not_answer_is_named_with_the_mechanism() {
        let open = |addr: String, m: Mechanism| async move {
            let s = settings(m);
            let deadline = Instant::now() + Duration::from_millis(500);
            Connection::open_with(&addr, "t", None, Some(&s), Default::default(), deadline)
                .await
                .unwrap_err()
        };
        let addr = silent_after(None).await;
        assert_eq!(
            open(addr.clone(), Mechanism::ScramSha256).await.to_string(),
            format!("{addr}: SASL SCRAM-SHA-256: SaslHandshake: no answer in time")
        );
        let addr = silent_after(Some((0, vec!["SCRAM-SHA-512"]))).await;
        assert_eq!(
            open(addr.clone(), Mechanism::ScramSha512).await.to_string(),
            format!("{addr}: SASL SCRAM-SHA-512: SaslAuthenticate: no answer in time")
        );
        // The broker's own list when it refuses, and a note when it lists what it refuses.
        let addr = silent_after(Some((33, vec!["GSSAPI", "OAUTHBEARER"]))).await;
        assert_eq!(
            open(addr.clone(), Mechanism::Plain).await.to_string(),
            format!(
                "{addr}: SASL PLAIN: SaslHandshake: the broker refuses this mechanism (UNSUPPORTED_SASL_MECHANISM (33)); it offers: GSSAPI, OAUTHBEARER"
            )
        );
        let addr = silent_after(Some((33, vec!["PLAIN"]))).await;
        let e = open(addr.clone(), Mechanism::Plain).await.to_string();
        assert!(e.ends_with("it offers: PLAIN (it lists the mechanism it refuses: is SASL enabled on this listener, and are users configured?)"), "{e}");
        assert!(!e.contains("hunter2"));
    }

    proptest! {
        /// Arbitrary server-first and server-final bytes: an answer or an error, never a panic.
        #[test]
        fn server_messages_never_panic(a in proptest::collection::vec(any::<u8>(), 0..200), b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut c = ScramClient::new(ScramHash::Sha256, "u", "p", "n".into());
            let _ = c.server_first(&a);
            let _ = c.server_final(&b);
            let _ = ServerFinal::parse(&a);
        }

        /// Well-shaped server-first messages with arbitrary attribute values.
        #[test]
        fn shaped_server_first_never_panics(nonce in "[!-~]{0,40}", salt in "[A-Za-z0-9+/=]{0,40}", i in "[0-9]{0,4}|[0-9]{8,12}", ext in "[ -~]{0,20}") {
            let mut c = ScramClient::new(ScramHash::Sha512, "u", "p", "n".into());
            let msg = format!("r=n{nonce},s={salt},i={i},{ext}");
            let _ = c.server_first(msg.as_bytes());
            let _ = c.server_final(format!("v={salt}").as_bytes());
        }
    }
}
