//! The Broker Integration page: `GET /` and its assets under `/assets/`, embedded in the binary
//! (plain HTML, CSS and an ES module; no build step).
//!
//! Every answer of this module carries a Content-Security-Policy that allows scripts, styles
//! and connections only from this origin and no inline script or style, plus `nosniff` and
//! `no-referrer` (the Kite callback's URL must never leak to another site).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

/// The page's Content-Security-Policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// An embedded file and its media type.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX_HTML: &str = include_str!("../page/index.html");

/// The files under `/assets/`, by name.
const ASSETS: [Asset; 3] = [
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../page/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../page/app.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../page/icon.svg"),
    },
];

/// The page's routes, for `Router::merge`; they need no state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// `GET /`: the page. `no-store`, so a page that once showed a user's data is never served
/// from the cache; the Kite callback lands here with `?kite=...`.
async fn index() -> Response {
    embedded("text/html; charset=utf-8", INDEX_HTML, "no-store")
}

/// `GET /assets/{file}`: an embedded asset; revalidated on every load so a new binary's page
/// never runs with an old script.
async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => embedded(asset.content_type, asset.body, "no-cache"),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such asset",
        )
            .into_response(),
    }
}

fn embedded(content_type: &'static str, body: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `/assets/...` the page links to is embedded, and every embedded asset is used.
    #[test]
    fn the_page_links_exactly_the_embedded_assets() {
        let linked: Vec<&str> = INDEX_HTML
            .split("/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        for name in &linked {
            assert!(
                ASSETS.iter().any(|asset| asset.name == *name),
                "index.html links /assets/{name}, which is not embedded"
            );
        }
        for asset in &ASSETS {
            assert!(
                linked.contains(&asset.name),
                "{} is embedded but index.html never links it",
                asset.name
            );
        }
    }

    /// The CSP forbids inline script and style, so the page must carry none.
    #[test]
    fn the_page_has_no_inline_script_style_or_handler() {
        let lower = INDEX_HTML.to_lowercase();
        assert!(!lower.contains("<style"), "inline <style> in index.html");
        assert!(!lower.contains(" style="), "style attribute in index.html");
        assert!(
            !lower.contains("javascript:"),
            "javascript: URL in index.html"
        );
        for attribute in lower.split_whitespace() {
            let name = attribute.split('=').next().unwrap_or_default();
            assert!(
                !(name.starts_with("on") && attribute.contains('=')),
                "inline event handler {name} in index.html"
            );
        }
        for script in lower.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap_or_default();
            assert!(tag.contains("src="), "inline <script> in index.html");
        }
    }

    async fn get(path: &str) -> Response {
        use tower::ServiceExt;
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        routes::<()>().oneshot(request).await.unwrap()
    }

    fn header(response: &Response, name: HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn every_answer_carries_the_csp_nosniff_and_no_referrer() {
        for (path, status, content_type) in [
            ("/", StatusCode::OK, "text/html; charset=utf-8"),
            (
                "/?kite=connected&account=x",
                StatusCode::OK,
                "text/html; charset=utf-8",
            ),
            (
                "/assets/app.js",
                StatusCode::OK,
                "text/javascript; charset=utf-8",
            ),
            ("/assets/app.css", StatusCode::OK, "text/css; charset=utf-8"),
            ("/assets/icon.svg", StatusCode::OK, "image/svg+xml"),
            (
                "/assets/missing.js",
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
            ),
            (
                "/assets/..%2Fsrc%2Fpage.rs",
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
            ),
        ] {
            let response = get(path).await;
            assert_eq!(response.status(), status, "{path}");
            assert_eq!(
                header(&response, header::CONTENT_TYPE),
                content_type,
                "{path}"
            );
            assert_eq!(
                header(&response, header::CONTENT_SECURITY_POLICY),
                CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert_eq!(header(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            assert_eq!(header(&response, header::REFERRER_POLICY), "no-referrer");
        }
        assert_eq!(header(&get("/").await, header::CACHE_CONTROL), "no-store");
    }

    #[tokio::test]
    async fn the_served_assets_are_the_embedded_files() {
        let response = get("/assets/app.js").await;
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body, include_str!("../page/app.js").as_bytes());
    }
}
