//! A hostile relay: an HTTP/1.1 forwarder between a client and the real
//! server that passes every request through unchanged (the client signs
//! them) and lets a test rewrite the answers, the way a compromised or
//! malicious server would.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

/// One answer from the real server, as the relay is about to send it on.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers other than framing (`content-length`, `transfer-encoding`,
    /// `connection`), lower-case names.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The value of header `name`, if present.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Removes header `name`.
    pub fn drop_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }
}

/// What the relay does to an answer: given the request's method and path
/// (with query), it may change the answer and says whether it did.
pub type Rewrite = Box<dyn FnMut(&str, &str, &mut Answer) -> bool + Send>;

/// A hostile relay in front of the server at `upstream`.
pub struct HostileRelay {
    /// `http://127.0.0.1:<port>`: give this to the victim's client.
    pub url: String,
    rule: Arc<Mutex<Option<Rewrite>>>,
    tampered: Arc<Mutex<usize>>,
}

impl std::fmt::Debug for HostileRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileRelay")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HostileRelay {
    /// Starts a relay in front of `upstream` (`http://host:port`), honest
    /// until [`Self::play`] is called. It serves one connection at a time,
    /// so the rule sees the calls in the order the client makes them.
    ///
    /// # Panics
    /// If loopback cannot be bound.
    #[must_use]
    pub fn start(upstream: &str) -> Self {
        Self::launch(upstream, false)
    }

    /// A relay like [`Self::start`] that serves each connection on its own
    /// thread, for a browser: it opens several connections at once and may
    /// leave one idle, which would stall a relay that serves them in turn.
    ///
    /// # Panics
    /// If loopback cannot be bound.
    #[must_use]
    pub fn start_for_browser(upstream: &str) -> Self {
        Self::launch(upstream, true)
    }

    #[allow(clippy::expect_used)]
    fn launch(upstream: &str, thread_per_connection: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let rule: Arc<Mutex<Option<Rewrite>>> = Arc::default();
        let tampered: Arc<Mutex<usize>> = Arc::default();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let (r, t) = (Arc::clone(&rule), Arc::clone(&tampered));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (agent, upstream, r, t) = (
                    agent.clone(),
                    upstream.clone(),
                    Arc::clone(&r),
                    Arc::clone(&t),
                );
                // One request per connection. A rule that panics drops
                // this answer, not the relay.
                let serve = move || {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        relay_one(stream, &agent, &upstream, &r, &t)
                    }));
                };
                if thread_per_connection {
                    std::thread::spawn(serve);
                } else {
                    serve();
                }
            }
        });
        Self {
            url,
            rule,
            tampered,
        }
    }

    /// From now on, answers pass through `rule`.
    pub fn play(&self, rule: impl FnMut(&str, &str, &mut Answer) -> bool + Send + 'static) {
        *self.rule.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(rule));
        *self.tampered.lock().unwrap_or_else(PoisonError::into_inner) = 0;
    }

    /// From now on, answers pass unchanged.
    pub fn honest(&self) {
        *self.rule.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// How many answers the rule changed since [`Self::play`].
    #[must_use]
    pub fn tampered(&self) -> usize {
        *self.tampered.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn relay_one(
    stream: TcpStream,
    agent: &ureq::Agent,
    upstream: &str,
    rule: &Mutex<Option<Rewrite>>,
    tampered: &Mutex<usize>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    let mut body_len = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            match name.as_str() {
                "content-length" => body_len = value.parse().unwrap_or(0),
                "host" | "connection" | "transfer-encoding" => {}
                _ => headers.push((name, value)),
            }
        }
    }
    let mut body = vec![0u8; body_len];
    reader.read_exact(&mut body)?;

    let mut request = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(format!("{upstream}{target}"));
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let sent = if body.is_empty() {
        request
            .body(())
            .map_err(std::io::Error::other)
            .and_then(|r| agent.run(r).map_err(std::io::Error::other))
    } else {
        request
            .body(body)
            .map_err(std::io::Error::other)
            .and_then(|r| agent.run(r).map_err(std::io::Error::other))
    };
    let mut response = sent?;
    let mut answer = Answer {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .filter(|(n, _)| {
                !matches!(
                    n.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                )
            })
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(std::io::Error::other)?,
    };
    if let Some(rewrite) = rule.lock().unwrap_or_else(PoisonError::into_inner).as_mut()
        && rewrite(&method, &target, &mut answer)
    {
        *tampered.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    let mut out = stream;
    write!(out, "HTTP/1.1 {} X\r\n", answer.status)?;
    for (name, value) in &answer.headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    write!(
        out,
        "content-length: {}\r\nconnection: close\r\n\r\n",
        answer.body.len()
    )?;
    out.write_all(&answer.body)?;
    out.flush()
}
