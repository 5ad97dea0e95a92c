//! From a method and a request target to a `Reply`; the one place that lists the routes.

use super::params::Params;
use super::{api, assets, pages, Failure, Reply, State, MAX_URL_BYTES};

/// Answers `method url` (`url` is the request target: path and query).
pub fn handle(state: &State, method: &str, url: &str) -> Reply {
    if method != "GET" && method != "HEAD" {
        return Failure {
            status: 405,
            message: format!("{method} is not served: this server only reads"),
            suggestion: None,
        }
        .into();
    }
    if url.len() > MAX_URL_BYTES {
        return Failure {
            status: 414,
            message: format!("the URL is longer than {MAX_URL_BYTES} bytes"),
            suggestion: None,
        }
        .into();
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let params = match Params::parse(query) {
        Ok(p) => p,
        Err(f) => return f.into(),
    };
    let Some(segments) = segments(path) else {
        return Failure::bad("the path is not valid percent-encoded UTF-8").into();
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        [] => pages::home(state, &params),
        ["paper", id] => pages::paper(state, id, &params),
        ["map"] => pages::map(state, &params),
        ["similar"] => pages::similar_fragment(state, &params),
        ["assets", name] => assets::get(name),
        ["api", "papers"] => api::papers(state),
        ["api", "papers", id] => api::paper(state, id),
        ["api", "similar"] => api::similar(state, &params),
        ["api", "search"] => api::search(state, &params),
        ["api", "map"] => api::map(state),
        ["api", ..] => Failure::not_found(format!("no API route {path}")).into(),
        _ => pages::not_found(path),
    }
}

/// The decoded, non-empty segments of `path`; `None` when one is not UTF-8.
fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_and_decoded() {
        assert_eq!(segments("/").unwrap(), Vec::<String>::new());
        assert_eq!(
            segments("/paper/Self%20RAG/").unwrap(),
            ["paper", "Self RAG"]
        );
        assert_eq!(segments("/assets/../../etc/passwd").unwrap().len(), 5);
        assert!(segments("/paper/%FF").is_none());
    }
}
