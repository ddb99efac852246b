//! The stylesheet and the small script, compiled into the binary.

use actix_web::HttpResponse;

const STYLE: &str = include_str!("static/style.css");
const SCRIPT: &str = include_str!("static/app.js");

pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(STYLE)
}

pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(SCRIPT)
}
