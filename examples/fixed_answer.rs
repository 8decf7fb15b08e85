//! The ceiling for `bench/webhook`: a minimal actix-web server that answers
//! every request with the same XML-RPC MENU — byte for byte what ivrhub
//! answers at the start of a call to the demo DID — without reading the body
//! beyond what actix does anyway.
//!
//! `cargo run --release --example fixed_answer -- 127.0.0.1:18081`

use actix_web::{App, HttpResponse, HttpServer, web};

/// ivrhub's answer to `MENU -1` on the demo flow (805 bytes).
const ANSWER: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
    "<methodResponse><params><param><value><struct>",
    "<member><name>STATUS</name><value><int>0</int></value></member>",
    "<member><name>ACTION</name><value><string>MENU</string></value></member>",
    "<member><name>LANGUAGE</name><value><string>he</string></value></member>",
    "<member><name>DATA</name><value><struct>",
    "<member><name>REC</name><value><string>main_menu</string></value></member>",
    "<member><name>LOOP</name><value><int>2</int></value></member>",
    "<member><name>DELAY</name><value><int>1</int></value></member>",
    "<member><name>SIZE</name><value><int>1</int></value></member>",
    "<member><name>MENU</name><value><string>main</string></value></member>",
    "<member><name>VALIDATION</name><value><int>0</int></value></member>",
    "</struct></value></member></struct></value></param></params></methodResponse>",
);

async fn answer(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body(ANSWER)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let workers = std::env::var("IVRHUB_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    HttpServer::new(|| App::new().default_service(web::to(answer)))
        .workers(workers)
        .bind(listen)?
        .run()
        .await
}
