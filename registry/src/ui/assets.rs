//! The UI's stylesheet and script, embedded in the binary. Pages link them with a digest of their
//! content in the URL, so they can be cached for good and a new build is fetched at once.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::LazyLock;

const CSS: &str = include_str!("../../assets/quarry.css");
const JS: &str = include_str!("../../assets/quarry.js");

fn versioned(name: &str, content: &str) -> String {
    let digest = quarry_core::digest::Sha256::of(content.as_bytes()).to_hex();
    format!("/assets/{name}?v={}", &digest[..12])
}

pub static CSS_URL: LazyLock<String> = LazyLock::new(|| versioned("quarry.css", CSS));
pub static JS_URL: LazyLock<String> = LazyLock::new(|| versioned("quarry.js", JS));

/// `GET /assets/{file}`.
pub async fn serve(request: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let (content, kind) = match file.as_str() {
        "quarry.css" => (CSS, "text/css; charset=utf-8"),
        "quarry.js" => (JS, "text/javascript; charset=utf-8"),
        _ => {
            return super::UiError::not_found("There is no such asset.").to_response(&request);
        }
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(content)
}
