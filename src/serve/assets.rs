//! The page's style and scripts, compiled into the binary: a request names an entry of this
//! table, never a file, and the page works with no network at all.

use super::{Failure, Reply};

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "paper.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/paper.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/map.js"),
    ),
];

pub fn get(name: &str) -> Reply {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => Reply {
            status: 200,
            content_type,
            body: body.as_bytes().to_vec(),
            cacheable: true,
            x_cache: None,
        },
        None => Failure::not_found(format!("no asset {name:?}")).into(),
    }
}
