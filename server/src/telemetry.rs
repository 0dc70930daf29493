//! Logging: the process-wide `tracing` subscriber and the HTTP trace layer.
//!
//! # What may be logged
//!
//! The relay sees request URIs, query strings and headers that carry
//! secrets: share-link tickets travel in query strings, session tokens in
//! headers, and document ids in paths say who works on what. None of it
//! belongs in a log file. A request is therefore logged with exactly four
//! facts:
//!
//! - the method (`GET`),
//! - the *matched route template* (`/v1/documents/{id}`, from axum's
//!   [`MatchedPath`]), never the raw path, and [`UNMATCHED_ROUTE`] when no
//!   route matched,
//! - the response status,
//! - the latency.
//!
//! Never the URI, the query string, a header or a body. Handlers that need
//! to log more log domain events in domain terms, through the same
//! subscriber, under the same rule.

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};

/// The `route` recorded for a request that matched no route (a 404 from
/// the fallback, or a layer applied outside the router): the raw path
/// could carry a secret, so it is not recorded instead.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// Why [`init`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The filter directive does not parse.
    #[error(
        "invalid log directive {directive:?}: {source}; use a tracing filter such as \
         `info` or `info,lexvault_server=debug` (--log, LEXVAULT_LOG or `log` in the config file)"
    )]
    InvalidDirective {
        /// The directive as given.
        directive: String,
        /// The parser's complaint.
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was already installed in this process.
    #[error("the log subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] TryInitError),
}

/// Installs the process-wide subscriber: human-readable lines on standard
/// error (standard output stays free for command output), filtered by
/// `directive`, a [`tracing_subscriber::EnvFilter`] directive such as
/// `info` or `warn,lexvault_server=debug`.
///
/// # Errors
///
/// [`TelemetryError::InvalidDirective`] if the directive does not parse,
/// [`TelemetryError::AlreadyInstalled`] if called twice.
pub fn init(directive: &str) -> Result<(), TelemetryError> {
    let filter = EnvFilter::builder().parse(directive).map_err(|source| {
        TelemetryError::InvalidDirective {
            directive: directive.to_owned(),
            source,
        }
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .finish()
        .try_init()?;
    Ok(())
}

/// The HTTP trace layer that [`http_trace_layer`] builds.
pub type HttpTraceLayer =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RouteSpan, (), LogResponse, (), (), ()>;

/// A [`TraceLayer`] that follows the module's policy: one span per request
/// with the method and the matched route template, and one event per
/// response with the status and the latency in milliseconds. Nothing else is
/// recorded: no URI, query string, header or body.
///
/// Apply it with [`axum::Router::layer`] *after* adding the routes, so that
/// it runs inside the router where [`MatchedPath`] is known:
///
/// ```
/// use axum::{Router, routing::get};
///
/// let app: Router = Router::new()
///     .route("/v1/documents/{id}", get(|| async { "ok" }))
///     .layer(lexvault_server::telemetry::http_trace_layer());
/// ```
pub fn http_trace_layer() -> HttpTraceLayer {
    TraceLayer::new_for_http()
        .make_span_with(RouteSpan)
        .on_request(())
        .on_response(LogResponse)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Makes the `http_request` span with only `method` and `route` (the
/// matched route template).
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteSpan;

impl<B> MakeSpan<B> for RouteSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        tracing::info_span!("http_request", method = %request.method(), route = %route)
    }
}

/// Logs one `response` event with `status` and `latency_ms`: at `error`
/// level for a 5xx status, `info` otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = latency.as_millis();
        if response.status().is_server_error() {
            tracing::error!(status, latency_ms, "response");
        } else {
            tracing::info!(status, latency_ms, "response");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// Collects everything the subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn logged_lines(uri: &str) -> (u16, String) {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::builder().parse("trace").unwrap())
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app: Router = Router::new()
            .route("/v1/documents/{id}", get(|| async { "ok" }))
            .layer(http_trace_layer());
        let request = Request::builder()
            .uri(uri)
            .header("authorization", "Bearer header-secret")
            .body(Body::empty())
            .unwrap();
        let status = app.oneshot(request).await.unwrap().status().as_u16();
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        (status, text)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn logs_the_route_template_and_never_the_uri_or_headers() {
        let (status, log) = logged_lines("/v1/documents/doc-42?ticket=query-secret").await;
        assert_eq!(status, 200);
        assert!(log.contains("route=/v1/documents/{id}"), "{log}");
        assert!(log.contains("method=GET"), "{log}");
        assert!(log.contains("status=200"), "{log}");
        assert!(log.contains("latency_ms="), "{log}");
        for secret in ["doc-42", "query-secret", "ticket", "header-secret"] {
            assert!(!log.contains(secret), "{secret} leaked into {log}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unmatched_path_is_not_logged() {
        let (status, log) = logged_lines("/v1/secret-path?ticket=query-secret").await;
        assert_eq!(status, 404);
        assert!(log.contains(UNMATCHED_ROUTE), "{log}");
        assert!(log.contains("status=404"), "{log}");
        assert!(!log.contains("secret"), "{log}");
    }

    #[test]
    fn an_invalid_directive_is_rejected_before_installing() {
        let error = init("lexvault_server=loud").unwrap_err();
        assert!(matches!(error, TelemetryError::InvalidDirective { .. }));
        assert!(error.to_string().contains("--log"));
    }
}
