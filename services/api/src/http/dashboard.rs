//! The live dashboard at `/dashboard`: three files built from `dashboard/` (Vite, plain
//! TypeScript) and committed under `dashboard/dist/`, embedded in the binary so that it works
//! offline and ships with the version of the API it was built against.
//!
//! The files are embedded with `include_bytes!` rather than `rust-embed`: the build gives them
//! fixed names (see `dashboard/vite.config.ts`), so three constants say everything; cargo
//! rebuilds when they change; debug and release builds serve the same bytes (`rust-embed`
//! reads from disk in debug builds unless told otherwise); and no proc-macro dependency is
//! added. The page holds no secret and needs no authentication: it asks for an API key and
//! talks to `/graphql` like any other client.
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

/// One embedded file: its bytes, its content type and its entity tag.
struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
    etag: String,
}

impl Asset {
    fn new(bytes: &'static [u8], content_type: &'static str) -> Asset {
        let digest = Sha256::digest(bytes);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Asset {
            bytes,
            content_type,
            etag: format!("\"{hex}\""),
        }
    }
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("../../../../dashboard/dist/index.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("../../../../dashboard/dist/assets/dashboard.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("../../../../dashboard/dist/assets/dashboard.css"),
        "text/css; charset=utf-8",
    )
});

/// The page's policy: its own script and style only, no inline code, no frame, no form
/// target, and connections to this origin only — over HTTP for queries and over WebSocket
/// for subscriptions. The WebSocket origin is spelled out because `'self'` covers `ws:` only
/// in recent browsers.
fn content_security_policy(req: &HttpRequest) -> String {
    let mut connect = String::from("'self'");
    if let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_plain_host(h))
    {
        connect.push_str(&format!(" ws://{host} wss://{host}"));
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// A `Host` value that can go into the policy as is: a name or address and a port, nothing
/// that could end the directive or add a source.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Answers `asset`, or 304 when the client already holds this version. Every response is
/// revalidated (`no-cache`): the names are fixed, so a new binary must be able to replace
/// what a browser keeps, and a 304 costs one small round trip.
fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, asset.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(req),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if fresh {
        return response.finish();
    }
    response.content_type(asset.content_type).body(asset.bytes)
}

/// Registers `/dashboard` (also with a trailing slash) and its two assets, for GET and HEAD.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/dashboard", "/dashboard/"])
            .route(web::get().to(index))
            .route(web::head().to(index)),
    )
    .service(
        web::resource("/dashboard/assets/dashboard.js")
            .route(web::get().to(script))
            .route(web::head().to(script)),
    )
    .service(
        web::resource("/dashboard/assets/dashboard.css")
            .route(web::get().to(style))
            .route(web::head().to(style)),
    );
}

/// `GET /dashboard` and `GET /dashboard/`: the page.
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX)
}

/// `GET /dashboard/assets/dashboard.js`.
pub async fn script(req: HttpRequest) -> HttpResponse {
    serve(&req, &SCRIPT)
}

/// `GET /dashboard/assets/dashboard.css`.
pub async fn style(req: HttpRequest) -> HttpResponse {
    serve(&req, &STYLE)
}

#[cfg(test)]
mod tests {
    use super::is_plain_host;

    #[test]
    fn only_plain_hosts_go_into_the_policy() {
        assert!(is_plain_host("127.0.0.1:8080"));
        assert!(is_plain_host("palier.ac-lyon.fr"));
        assert!(is_plain_host("[::1]:8080"));
        assert!(!is_plain_host("evil.example; script-src *"));
        assert!(!is_plain_host("a b"));
        assert!(!is_plain_host(""));
    }

    #[test]
    fn the_embedded_page_loads_its_embedded_assets() {
        let page = std::str::from_utf8(super::INDEX.bytes).unwrap_or_default();
        assert!(page.contains("/dashboard/assets/dashboard.js"), "{page}");
        assert!(page.contains("/dashboard/assets/dashboard.css"), "{page}");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{page}"
        );
    }
}
