//! A small SMTP client for the email notifier (Burrow's `email` class): EHLO, STARTTLS or
//! implicit TLS (rustls, trusting the CAs of `ca_file`), AUTH PLAIN or CRAM-MD5, MAIL FROM,
//! RCPT TO, DATA with CRLF line ends and dot-stuffing, QUIT. Every step has the notifier's
//! timeout; an error names the server and quotes its reply, never the password.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{KeyInit, Mac};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (port 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS before anything else is sent; a server that does
    /// not offer it is an error.
    StartTls,
    /// No TLS at all (a relay on loopback).
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthType {
    Plain,
    CramMd5,
}

#[derive(Clone)]
pub struct Mailer {
    pub server: String,
    pub port: u16,
    pub tls: TlsMode,
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    /// (mechanism, user name, file holding the password).
    pub auth: Option<(AuthType, String, PathBuf)>,
    pub timeout: Duration,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Conn {
    io: BufReader<Box<dyn Io>>,
    label: String,
}

/// One reply: its code and its lines (without the code), for error messages.
struct Reply {
    code: u16,
    text: String,
}

impl Conn {
    async fn reply(&mut self) -> Result<Reply, String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .io
                .read_line(&mut line)
                .await
                .map_err(|e| format!("{}: reading the reply: {e}", self.label))?;
            if n == 0 {
                return Err(format!("{}: the server closed the connection", self.label));
            }
            if line.len() > 4096 || lines.len() > 100 {
                return Err(format!("{}: a reply too long", self.label));
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(format!("{}: not an SMTP reply: {line:?}", self.label));
            };
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok(Reply {
                    code,
                    text: lines.join(" / "),
                });
            }
        }
    }

    async fn expect(&mut self, what: &str, ok: &[u16]) -> Result<Reply, String> {
        let r = self.reply().await?;
        if ok.contains(&r.code) {
            Ok(r)
        } else {
            Err(format!("{}: {what} refused: {:?}", self.label, r.text))
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), String> {
        let io = self.io.get_mut();
        io.write_all(data)
            .await
            .map_err(|e| format!("{}: writing: {e}", self.label))?;
        io.flush()
            .await
            .map_err(|e| format!("{}: writing: {e}", self.label))
    }

    /// Sends a command line; `what` is how an error names it (never the line itself, which may
    /// hold credentials).
    async fn cmd(&mut self, line: &str, what: &str, ok: &[u16]) -> Result<Reply, String> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.expect(what, ok).await
    }
}

/// The EHLO extensions (upper case keywords with their parameters).
fn extensions(r: &Reply) -> Vec<String> {
    r.text
        .split(" / ")
        .skip(1)
        .map(|l| l.get(4..).unwrap_or("").to_ascii_uppercase())
        .collect()
}

/// `text` with CRLF line ends and a dot doubled at the start of a line (RFC 5321 4.5.2).
pub fn dot_stuff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    // `split` gives an empty last piece after a final newline: no extra empty line.
    if text.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out
}

/// The CRAM-MD5 answer to a base64 challenge (RFC 2195).
pub fn cram_md5(user: &str, password: &str, challenge_b64: &str) -> Result<String, String> {
    let challenge = B64
        .decode(challenge_b64.trim())
        .map_err(|e| format!("the CRAM-MD5 challenge is not base64: {e}"))?;
    let mut mac =
        hmac::Hmac::<md5::Md5>::new_from_slice(password.as_bytes()).map_err(|e| e.to_string())?;
    mac.update(&challenge);
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(B64.encode(format!("{user} {digest}")))
}

impl Mailer {
    /// `smtp://server:port`, as errors and logs name it.
    pub fn label(&self) -> String {
        format!("smtp://{}:{}", self.server, self.port)
    }

    /// Sends one message to every recipient.
    pub async fn send(&self, from: &str, to: &[String], message: &str) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.session(from, to, message)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "{}: no answer within {:?}",
                self.label(),
                self.timeout
            )),
        }
    }

    async fn tls(&self, tcp: Box<dyn Io>) -> Result<Box<dyn Io>, String> {
        let Some(cfg) = &self.tls_config else {
            return Err(format!("{}: TLS needs ca_file", self.label()));
        };
        let name = rustls::pki_types::ServerName::try_from(self.server.clone())
            .map_err(|e| format!("{}: {e}", self.label()))?;
        let s = tokio_rustls::TlsConnector::from(cfg.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{}: TLS: {e}", self.label()))?;
        Ok(Box::new(s))
    }

    async fn session(&self, from: &str, to: &[String], message: &str) -> Result<(), String> {
        let label = self.label();
        let tcp = TcpStream::connect((self.server.as_str(), self.port))
            .await
            .map_err(|e| format!("{label}: cannot connect: {e}"))?;
        let mut io: Box<dyn Io> = Box::new(tcp);
        if self.tls == TlsMode::Implicit {
            io = self.tls(io).await?;
        }
        let mut c = Conn {
            io: BufReader::new(io),
            label: label.clone(),
        };
        c.expect("the greeting", &[220]).await?;
        let mut ehlo = c.cmd("EHLO kafkascope", "EHLO", &[250]).await?;
        if self.tls == TlsMode::StartTls {
            if !extensions(&ehlo).iter().any(|e| e == "STARTTLS") {
                return Err(format!(
                    "{label} does not offer STARTTLS (its EHLO reply: {:?})",
                    ehlo.text
                ));
            }
            c.cmd("STARTTLS", "STARTTLS", &[220]).await?;
            let plain = c.io.into_inner();
            c = Conn {
                io: BufReader::new(self.tls(plain).await?),
                label: label.clone(),
            };
            ehlo = c.cmd("EHLO kafkascope", "EHLO", &[250]).await?;
        }
        if let Some((kind, user, file)) = &self.auth {
            let password = tokio::fs::read_to_string(file)
                .await
                .map_err(|e| format!("cannot read password_file {}: {e}", file.display()))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let mech = match kind {
                AuthType::Plain => "PLAIN",
                AuthType::CramMd5 => "CRAM-MD5",
            };
            let offered = extensions(&ehlo).iter().any(|e| {
                e.strip_prefix("AUTH")
                    .is_some_and(|m| m.split([' ', '=']).any(|m| m == mech))
            });
            if !offered {
                return Err(format!(
                    "{label} does not offer AUTH {mech} (its EHLO reply: {:?})",
                    ehlo.text
                ));
            }
            let what = format!("AUTH {mech}");
            match kind {
                AuthType::Plain => {
                    let token = B64.encode(format!("\0{user}\0{password}"));
                    c.cmd(&format!("AUTH PLAIN {token}"), &what, &[235]).await?;
                }
                AuthType::CramMd5 => {
                    let challenge = c.cmd("AUTH CRAM-MD5", &what, &[334]).await?;
                    let b64 = challenge.text.get(4..).unwrap_or("");
                    let answer =
                        cram_md5(user, password, b64).map_err(|e| format!("{label}: {e}"))?;
                    c.cmd(&answer, &what, &[235]).await?;
                }
            }
        }
        c.cmd(&format!("MAIL FROM:<{from}>"), "MAIL FROM", &[250])
            .await?;
        for rcpt in to {
            c.cmd(
                &format!("RCPT TO:<{rcpt}>"),
                &format!("RCPT TO {rcpt}"),
                &[250, 251],
            )
            .await?;
        }
        c.cmd("DATA", "DATA", &[354]).await?;
        let mut body = dot_stuff(message);
        if !body.ends_with("\r\n") {
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        c.write(body.as_bytes()).await?;
        c.expect("the message", &[250]).await?;
        // The message is accepted; a QUIT that goes wrong changes nothing.
        let _ = c.cmd("QUIT", "QUIT", &[221]).await;
        Ok(())
    }
}

/// Burrow's message from a rendered email template: it must start with `Subject: `; that line,
/// `Content-Type: ` and `MIME-version: ` lines become headers, the rest is the body.
pub fn compose(
    rendered: &str,
    from: &str,
    to: &[String],
    date_ms: i64,
    id: &str,
) -> Result<String, String> {
    if !rendered.starts_with("Subject: ") {
        return Err(
            "no subject line: the email template must start with \"Subject: …\"".to_string(),
        );
    }
    let mut subject = None;
    let mut content_type = "text/plain".to_string();
    let mut mime = None;
    let mut body = String::new();
    for line in rendered.split('\n') {
        if let (Some(s), None) = (line.strip_prefix("Subject: "), &subject) {
            subject = Some(s.trim_end_matches('\r').to_string());
        } else if let Some(c) = line.strip_prefix("Content-Type: ") {
            content_type = c.trim_end_matches('\r').replace(';', "");
        } else if let Some(m) = line.strip_prefix("MIME-version: ") {
            mime = Some(m.trim_end_matches('\r').replace(';', ""));
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    let header = |s: &str| -> String {
        // Non-ASCII (or a stray line break) in a header: an RFC 2047 encoded word.
        if s.is_ascii() && !s.contains(['\r', '\n']) {
            s.to_string()
        } else {
            format!("=?UTF-8?B?{}?=", B64.encode(s))
        }
    };
    let date = jiff::Timestamp::from_millisecond(date_ms)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default();
    let mut m = String::new();
    m.push_str(&format!("From: {}\r\n", header(from)));
    m.push_str(&format!("To: {}\r\n", header(&to.join(", "))));
    m.push_str(&format!(
        "Subject: {}\r\n",
        header(subject.as_deref().unwrap_or(""))
    ));
    m.push_str(&format!("Date: {date}\r\n"));
    m.push_str(&format!(
        "Message-ID: <{id}.{date_ms}@kafkascope>\r\nMIME-Version: {}\r\n",
        mime.as_deref().unwrap_or("1.0")
    ));
    m.push_str(&format!(
        "Content-Type: {content_type}; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ));
    m.push_str(&body);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_and_line_ends() {
        assert_eq!(dot_stuff("a\n.b\r\n..c\n"), "a\r\n..b\r\n...c\r\n");
        assert_eq!(dot_stuff("x"), "x\r\n");
    }

    #[test]
    fn cram_md5_matches_rfc_2195() {
        // RFC 2195's example: tim / tanstaaftanstaaf.
        let challenge = B64.encode("<1896.697170952@postoffice.reston.mci.net>");
        let answer = cram_md5("tim", "tanstaaftanstaaf", &challenge).unwrap();
        assert_eq!(
            String::from_utf8(B64.decode(answer).unwrap()).unwrap(),
            "tim b913a602c7eda7a495b4e6e7334d3890"
        );
    }

    #[test]
    fn a_message_from_a_template() {
        let m = compose(
            "Subject: Lag\n\nbody\nContent-Type: text/html\n",
            "k@x",
            &["a@x".into(), "b@x".into()],
            0,
            "id",
        )
        .unwrap();
        assert!(
            m.starts_with("From: k@x\r\nTo: a@x, b@x\r\nSubject: Lag\r\n"),
            "{m}"
        );
        assert!(m.contains("Content-Type: text/html; charset=UTF-8"));
        assert!(m.ends_with("\r\n\r\n\nbody\n\n"), "{m:?}");
        assert!(compose("no subject", "k", &[], 0, "i").is_err());
        assert!(
            compose("Subject: Läg\n", "k", &[], 0, "i")
                .unwrap()
                .contains("Subject: =?UTF-8?B?")
        );
    }
}
