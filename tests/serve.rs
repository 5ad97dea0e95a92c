//! `recommend serve` end to end: the JSON API and the pages of a server started inside the
//! test on an ephemeral loopback port, over the seed index with the real model; bad
//! requests; corpus markup that must stay text; and the pages in headless Chromium.

mod common;

use common::ids;

use recommend::index::Index;
use recommend::query::{self, PaperSpace, SimilarRequest};
use recommend::serve::Server;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The server over the seed index, shared by the tests of this file.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| common::start(&common::seed_index(), 4))
}

struct Answer {
    status: u16,
    content_type: String,
    /// `X-Cache`: `hit` when the answer was kept from an earlier request, else `miss`.
    x_cache: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{} {}",
            self.content_type,
            self.body
        );
        serde_json::from_str(&self.body).unwrap()
    }
}

fn get_from(server: &Server, path: &str) -> Answer {
    let url = format!("http://{}{path}", server.addr());
    let response = match ureq::get(&url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    Answer {
        status: response.status(),
        content_type: response.header("content-type").unwrap_or("").to_string(),
        x_cache: response.header("x-cache").map(str::to_string),
        body: response.into_string().unwrap(),
    }
}

fn get(path: &str) -> Answer {
    get_from(server(), path)
}

/// A request written by hand (no client normalizes its target), and the status line.
fn raw(request: &str) -> String {
    let mut s = std::net::TcpStream::connect(server().addr()).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines().next().unwrap_or("").to_string()
}

#[test]
fn api_answers_with_the_cli_shapes() {
    let papers = get("/api/papers").json();
    let rows = papers.as_array().unwrap();
    assert!(rows.len() >= 85, "{} papers", rows.len());
    for key in ["id", "title", "source", "url", "date", "tags"] {
        assert!(rows[0].get(key).is_some(), "/api/papers lacks {key}");
    }
    let cad = get("/api/papers/cad").json();
    assert_eq!(cad["id"], "CAD");
    assert!(!cad["sections"].as_array().unwrap().is_empty());

    // `similar` is the library's answer, unchanged.
    let similar = get("/api/similar?id=CAD&k=5").json();
    let ix = Index::open(&common::seed_index()).unwrap();
    let space = PaperSpace::new(&ix).unwrap();
    let expected = query::similar(&ix, &space, &SimilarRequest::new("CAD", 5)).unwrap();
    let expected: Value = serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
    assert_eq!(similar, expected);
    assert!(similar["results"][0]["why"]["query_passage"].is_string());

    // Several seeds, a paper to avoid and a filter: `query::similar` with the same request.
    let mut req = SimilarRequest::new("CAD", 10);
    req.ids.push("SelfRAG".into());
    req.not.push(ids(&similar)[0].clone());
    req.filter.since = Some("2023-06".parse().unwrap());
    let path = format!(
        "/api/similar?id=CAD&id=SelfRAG&not={}&since=2023-06",
        req.not[0]
    );
    let several = get(&path).json();
    let expected = query::similar(&ix, &space, &req).unwrap();
    let expected: Value = serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
    assert_eq!(several, expected);
    assert_eq!(several["also"][0]["id"], "SelfRAG");
    assert_eq!(several["not"][0]["id"], req.not[0].as_str());
    let dated: Vec<String> = ids(&several);
    assert!(!dated.contains(&req.not[0]) && !dated.is_empty());
    for id in &dated {
        let date = rows.iter().find(|r| r["id"] == id.as_str()).unwrap()["date"].clone();
        assert!(
            date.as_str().is_some_and(|d| d >= "2023-06"),
            "{id}: {date}"
        );
    }

    let found = get("/api/search?q=%EC%96%B8%EC%96%B4+%EB%AA%A8%EB%8D%B8%EC%9D%B4+%EC%99%B8%EB%B6%80+%EB%8F%84%EA%B5%AC+API%EB%A5%BC+%ED%98%B8%EC%B6%9C&k=3").json();
    assert!(ids(&found).iter().any(|id| id == "Toolformer"), "{found}");
    assert!(!found["results"][0]["passage"].as_str().unwrap().is_empty());

    // The map is the layout stored in the index when it was written.
    assert!(ix.manifest().files.contains_key("map.f32"));
    let stored = ix.map_layout().unwrap();
    let map = get("/api/map").json();
    let points = map["points"].as_array().unwrap();
    assert_eq!(points.len(), rows.len());
    for (p, xy) in points.iter().zip(&stored) {
        assert_eq!(p["x"].as_f64().unwrap() as f32, xy[0]);
    }
    for p in points {
        for axis in ["x", "y"] {
            let v = p[axis].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{p}");
        }
        assert!(p["id"].is_string() && p["title"].is_string() && p["tags"].is_array());
    }
}

/// The library's `similar` answer to `req`, as JSON.
fn library_similar(req: &SimilarRequest) -> Value {
    static LIBRARY: OnceLock<(Index, PaperSpace)> = OnceLock::new();
    let (ix, space) = LIBRARY.get_or_init(|| {
        let ix = Index::open(&common::seed_index()).unwrap();
        let space = PaperSpace::new(&ix).unwrap();
        (ix, space)
    });
    let answer = query::similar(ix, space, req).unwrap();
    serde_json::from_str(&serde_json::to_string(&answer).unwrap()).unwrap()
}

/// A request asked again gets the same bytes from the cache; one that differs in anything
/// that changes the answer (filter, `k`, the order of the seeds) gets its own, computed.
/// (`k=9` and `k=8`: no other test of this file asks for them, so the first ask is a miss.)
#[test]
fn answers_asked_again_come_from_the_cache_and_only_for_the_same_request() {
    let first = get("/api/similar?id=CAD&k=9&since=2023-06");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.x_cache.as_deref(), Some("miss"));
    // Same request, other spelling and order of the parameters: the kept bytes.
    let again = get("/api/similar?since=2023-06&k=9&id=%20cad");
    assert_eq!(again.x_cache.as_deref(), Some("hit"));
    assert_eq!(again.body, first.body);
    let mut req = SimilarRequest::new("CAD", 9);
    req.filter.since = Some("2023-06".parse().unwrap());
    assert_eq!(again.json(), library_similar(&req));

    // Another filter, another k, another source: each computed, each the library's answer.
    let sources: Vec<String> = get("/api/papers")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["source"].as_str().map(str::to_string))
        .collect();
    let source = sources
        .iter()
        .find(|s| *s != &sources[0])
        .unwrap_or(&sources[0]);
    let mut since_2024 = req.clone();
    since_2024.filter.since = Some("2024-01".parse().unwrap());
    let mut k8 = req.clone();
    k8.k = 8;
    let mut until = req.clone();
    until.filter.until = Some("2024-06".parse().unwrap());
    for (path, expected, differs) in [
        ("/api/similar?id=CAD&k=9&since=2024-01", since_2024, true),
        ("/api/similar?id=CAD&k=8&since=2023-06", k8, true),
        // (The same papers as without `until`, but still its own entry, computed.)
        (
            "/api/similar?id=CAD&k=9&since=2023-06&until=2024-06",
            until,
            false,
        ),
    ] {
        let a = get(path);
        assert_eq!(a.x_cache.as_deref(), Some("miss"), "{path}");
        if differs {
            assert_ne!(a.body, first.body, "{path}");
        }
        assert_eq!(a.json(), library_similar(&expected), "{path}");
        assert_eq!(get(path).x_cache.as_deref(), Some("hit"), "{path}");
    }
    let by_source = format!("/api/similar?id=CAD&k=9&source={source}");
    let a = get(&by_source);
    assert_eq!(a.x_cache.as_deref(), Some("miss"), "{by_source}");
    let mut expected = SimilarRequest::new("CAD", 9);
    expected.filter.source = Some(source.clone());
    assert_eq!(a.json(), library_similar(&expected));

    // The order of the seeds is part of the answer (the first is `query`).
    let ab = get("/api/similar?id=CAD&id=SelfRAG&k=9");
    let ba = get("/api/similar?id=SelfRAG&id=CAD&k=9");
    assert_eq!(ba.x_cache.as_deref(), Some("miss"));
    assert_eq!(ab.json()["query"]["id"], "CAD");
    assert_eq!(ba.json()["query"]["id"], "SelfRAG");

    // Search: the same text and parameters give the kept bytes; another k does not.
    let q = "/api/search?q=retrieval+augmented+generation+with+self+reflection&k=9";
    let s1 = get(q);
    assert_eq!(s1.x_cache.as_deref(), Some("miss"), "{}", s1.body);
    let s2 = get(q);
    assert_eq!(s2.x_cache.as_deref(), Some("hit"));
    assert_eq!(s2.body, s1.body);
    let s3 = get(&q.replace("k=9", "k=8"));
    assert_eq!(s3.x_cache.as_deref(), Some("miss"));
    assert_eq!(ids(&s3.json()).len(), 8);

    // Errors are never kept.
    for _ in 0..2 {
        let a = get("/api/similar?id=CDA&k=9");
        assert_eq!(a.status, 404);
        assert_eq!(a.x_cache, None);
    }
}

/// `--cache-mb 0`: nothing is kept, every answer is computed (and still the library's).
#[test]
fn a_server_without_cache_computes_every_answer() {
    let off = common::start_with_cache(&common::seed_index(), 2, 0);
    for _ in 0..2 {
        let a = get_from(&off, "/api/similar?id=CAD&k=4");
        assert_eq!(a.status, 200);
        assert_eq!(a.x_cache, None);
        assert_eq!(a.json(), library_similar(&SimilarRequest::new("CAD", 4)));
    }
    assert_eq!(off.state().unwrap().answers.usage(), (0, 0));
    off.stop();
}

#[test]
fn bad_requests_get_json_errors_and_the_server_keeps_serving() {
    for (path, status, needle) in [
        ("/api/similar?id=CAD&k=0", 400, "`k`"),
        ("/api/similar?id=CAD&k=many", 400, "`k`"),
        ("/api/similar", 400, "`id` is required"),
        ("/api/similar?id=CAD&scoring=best", 400, "csls"),
        ("/api/search", 400, "`q` is required"),
        ("/api/nothing", 404, "no API route"),
    ] {
        let a = get(path);
        assert_eq!(a.status, status, "{path}: {}", a.body);
        let e = a.json();
        assert!(e["error"].as_str().unwrap().contains(needle), "{path}: {e}");
    }
    // Filters and seeds that cannot be answered are the client's mistake too.
    for (path, needle) in [
        ("/api/similar?id=CAD&since=2024-1", "since"),
        (
            "/api/similar?id=CAD&since=2024-05&until=2024-01",
            "no date can pass",
        ),
        ("/api/similar?id=CAD&not=CAD", "both a seed"),
        ("/api/search?q=rag&until=May", "until"),
    ] {
        let a = get(path);
        assert_eq!(a.status, 400, "{path}: {}", a.body);
        let e = a.json();
        assert!(e["error"].as_str().unwrap().contains(needle), "{path}: {e}");
    }
    let a = get("/api/similar?id=CAD&tag=Retreival");
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["suggestion"], "Retrieval");
    // An unknown id: 404 with the suggestion, in the API and on the page.
    let a = get("/api/similar?id=CDA");
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["suggestion"], "CAD");
    assert_eq!(get("/api/papers/CDA").json()["suggestion"], "CAD");
    let page = get("/paper/CDA");
    assert_eq!(page.status, 404);
    assert!(page
        .body
        .contains("Did you mean <a href=\"/paper/CAD\">CAD</a>?"));
    // Long queries and long URLs are refused before any work.
    let long = "a".repeat(600);
    assert_eq!(get(&format!("/api/search?q={long}")).status, 400);
    let huge = "x".repeat(10_000);
    assert_eq!(get(&format!("/api/similar?id={huge}")).status, 414);
    // Only reading; no path reaches the file system.
    assert!(raw(
        "POST /api/papers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    .contains(" 405 "));
    assert!(raw(
        "GET /assets/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .contains(" 404 "));
    assert!(raw(
        "GET /assets/%2e%2e%2fCargo.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .contains(" 404 "));
    assert_eq!(get("/assets/style.css").status, 200);
    // Still serving.
    assert_eq!(get("/api/papers/CAD").status, 200);
}

#[test]
fn concurrent_requests_are_all_answered() {
    let addr = server().addr();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let agent = ureq::agent();
                for i in 0..20 {
                    let path = if (t + i) % 5 == 0 {
                        "/api/search?q=hallucination%20benchmark&k=3"
                    } else {
                        "/api/similar?id=SelfRAG&k=10"
                    };
                    let r = agent.get(&format!("http://{addr}{path}")).call().unwrap();
                    assert_eq!(r.status(), 200);
                    let v: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
                    assert!(!v["results"].as_array().unwrap().is_empty());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn pages_show_the_papers_and_the_neighbours() {
    let home = get("/");
    assert_eq!(home.status, 200);
    assert!(home.content_type.starts_with("text/html"));
    assert!(home
        .body
        .contains("Trusting Your Evidence: Hallucinate Less with Context-aware Decoding"));
    assert!(home.body.contains("name=\"q\""));
    // Sorted by date, newest first by default, oldest first when asked.
    let dates = |body: &str| -> Vec<String> {
        body.split("<td class=\"date\">")
            .skip(1)
            .map(|t| t.split('<').next().unwrap().to_string())
            .filter(|d| !d.is_empty())
            .collect()
    };
    let newest = dates(&home.body);
    assert!(newest.len() > 50 && newest.windows(2).all(|w| w[0] >= w[1]));
    let oldest = dates(&get("/?sort=oldest").body);
    assert!(oldest.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(get("/?sort=sideways").status, 400);
    // The date header flips the order and keeps the filters.
    assert!(home.body.contains("href=\"/?sort=oldest\""));
    assert!(get("/?tag=LLM")
        .body
        .contains("href=\"/?tag=LLM&amp;sort=oldest\""));

    // Filters: the list holds exactly the papers that pass them.
    let all = get("/api/papers").json();
    let rows = all.as_array().unwrap();
    let in_range = dates(&get("/?since=2024-01&until=2024-03").body);
    let expected = rows
        .iter()
        .filter_map(|r| r["date"].as_str())
        .filter(|d| ("2024-01".."2024-04").contains(d))
        .count();
    assert!(expected > 0 && expected < rows.len());
    assert_eq!(in_range.len(), expected, "{in_range:?}");
    let tagged = get("/?tag=retrieval").body;
    let expected = rows
        .iter()
        .filter(|r| {
            r["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "Retrieval")
        })
        .count();
    assert!(expected > 0);
    assert_eq!(tagged.matches("<tr data-id=").count(), expected);
    assert!(tagged.contains(&format!("<h1>{expected} papers of {}</h1>", rows.len())));
    let bad = get("/?tag=Retreival");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("Did you mean “Retrieval”?"),
        "{}",
        bad.body
    );
    assert_eq!(get("/?since=2024-13").status, 400);

    let paper = get("/paper/CAD");
    assert_eq!(paper.status, 200);
    assert!(paper.body.contains("Papers like this"));
    assert_eq!(paper.body.matches("<li class=\"hit\"").count(), 10);
    assert!(paper.body.contains("<mark>"), "no highlighted word");
    assert!(paper.body.contains("button class=\"more\""));

    // The re-ranked list: a second seed changes it, a `not` removes that paper.
    let one = get("/similar?id=CAD");
    assert_eq!(one.status, 200);
    assert_eq!(one.body.matches("<li class=\"hit\"").count(), 10);

    let found = get("/?q=hallucination+benchmark");
    assert!(found.body.contains("HaluEval"), "{}", found.body);

    let map = get("/map?id=CAD");
    assert!(map.body.contains("data-selected=\"CAD\""));
    assert!(map.body.contains("/assets/map.js"));
}

/// A corpus whose titles, text, tags and links are markup and script.
fn hostile_corpus(dir: &Path) -> PathBuf {
    let file = dir.join("hostile.jsonl");
    let lines = [
        serde_json::json!({
            "id": "Evil",
            "title": "<script>alert('title')</script> Retrieval <img src=x onerror=alert('img')>",
            "title_ko": "<svg onload=alert('ko')>검색</svg>",
            "url": "javascript:alert('link')",
            "tags": ["<b onclick=alert('tag')>rag</b>"],
            "date": "2024-01-02",
            "text": "Retrieval augmented generation <script>alert('text')</script> reduces hallucination. <iframe src=\"javascript:alert('frame')\"></iframe> \"quoted\" & 'single'",
        }),
        serde_json::json!({
            "id": "Plain",
            "title": "Retrieval augmented generation for question answering",
            "url": "https://example.org/plain",
            "text": "Retrieval augmented generation grounds answers in retrieved passages and reduces hallucination.",
        }),
        serde_json::json!({
            "id": "Other",
            "title": "Speculative decoding",
            "text": "A small draft model proposes tokens that the large model verifies in parallel.",
        }),
    ];
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    file
}

/// Tags of `html` that the hostile corpus would have made live: an element it names, an
/// event-handler attribute, a `javascript:` link. Escaped text holds no `<`, and an escaped
/// attribute value no `"` or `>`, so every `<` in the page starts a real tag and the text
/// between quotes is a value (shown, never run); the page's own tags are none of these.
fn live_markup(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or("").to_ascii_lowercase())
        .filter(|tag| {
            // The tag without its quoted values: names and attributes only.
            let bare: String = tag.split('"').step_by(2).collect::<Vec<_>>().join("\"\"");
            let name = bare.split_whitespace().next().unwrap_or("");
            let foreign = ["img", "svg", "iframe", "b"].contains(&name)
                || (name == "script" && !tag.contains("src=\"/assets/"));
            let handler = bare
                .split_whitespace()
                .skip(1)
                .any(|attr| attr.starts_with("on"));
            let link = ["href=", "src=", "action="].iter().any(|a| {
                tag.contains(&format!("{a}\"javascript:"))
                    || tag.contains(&format!("{a}javascript:"))
            });
            foreign || handler || link
        })
        .collect()
}

/// Everything of the hostile corpus that a browser loads, as served.
struct Hostile {
    server: Server,
    _dir: tempfile::TempDir,
}

fn hostile() -> &'static Hostile {
    static HOSTILE: OnceLock<Hostile> = OnceLock::new();
    HOSTILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let corpus = hostile_corpus(dir.path());
        let index = dir.path().join("index");
        common::build(&index, &[corpus]);
        Hostile {
            server: common::start(&index, 2),
            _dir: dir,
        }
    })
}

#[test]
fn corpus_markup_is_shown_as_text() {
    let h = hostile();
    for path in [
        "/",
        "/paper/Evil",
        "/paper/Plain",
        "/similar?id=Plain",
        "/?q=retrieval",
        "/map",
    ] {
        let page = get_from(&h.server, path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(
            live_markup(&page.body),
            Vec::<&str>::new(),
            "{path}: {}",
            page.body
        );
        // Our own script tags only: each has a `src` inside the binary.
        for tag in page
            .body
            .match_indices("<script")
            .map(|(i, _)| &page.body[i..])
        {
            assert!(
                tag.starts_with("<script src=\"/assets/"),
                "{path}: {tag:.60}"
            );
        }
    }
    let evil = get_from(&h.server, "/paper/Evil").body;
    // The check itself sees live markup where there is some.
    assert_eq!(
        live_markup("<p>x</p><img src=x onerror=alert(1)><a href=\"javascript:x\">"),
        ["img src=x onerror=alert(1)", "a href=\"javascript:x\""]
    );
    assert!(evil.contains("&lt;script&gt;alert('title')&lt;/script&gt; Retrieval &lt;img src=x onerror=alert('img')&gt;"));
    assert!(
        evil.contains("javascript:alert('link')"),
        "the link is shown as text"
    );
    // The JSON API carries the strings unchanged (JSON is not HTML).
    let api = get_from(&h.server, "/api/papers/Evil").json();
    assert!(api["title"].as_str().unwrap().starts_with("<script>"));
}

// ---- headless Chromium ---------------------------------------------------------------------

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| {
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join(name))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .find(|p| p.is_file())
}

/// Headless Chromium on `url`: the DOM after scripts ran, or a screenshot saved at `png`.
fn browse(chrome: &Path, url: &str, png: Option<&Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(chrome);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match png {
        Some(p) => cmd
            .arg(format!("--screenshot={}", p.display()))
            .arg("--window-size=1280,860"),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).output().unwrap();
    assert!(
        out.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pages_render_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        eprintln!("chromium is not installed: browser checks skipped (apt-get install chromium)");
        return;
    };
    let base = format!("http://{}", server().addr());
    let papers = get("/api/papers").json().as_array().unwrap().len();

    let home = browse(&chrome, &format!("{base}/"), None);
    assert_eq!(home.matches("<tr data-id=").count(), papers);

    let paper = browse(&chrome, &format!("{base}/paper/CAD"), None);
    assert_eq!(paper.matches("<li class=\"hit\"").count(), 10, "{paper}");
    let expected = ids(&get("/api/similar?id=CAD&k=10").json());
    let first = format!("<li class=\"hit\" data-id=\"{}\"", expected[0]);
    assert!(paper.contains(&first), "{first} not first in {paper}");

    let map = browse(&chrome, &format!("{base}/map?id=CAD"), None);
    assert_eq!(map.matches("<circle ").count(), papers, "{map}");
    assert!(map.contains(&format!("data-drawn=\"{papers}\"")));
    assert!(
        map.contains("<line "),
        "no neighbour lines for the selected paper"
    );

    // The hostile corpus renders as text in a real browser too.
    let evil = browse(
        &chrome,
        &format!("http://{}/paper/Evil", hostile().server.addr()),
        None,
    );
    assert_eq!(live_markup(&evil), Vec::<String>::new(), "{evil}");

    // Screenshots, for a person to look at (and for the README when asked for).
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (name, path) in [
        ("home", "/"),
        ("paper", "/paper/CAD"),
        ("map", "/map?id=CAD"),
    ] {
        let png = shots.join(format!("{name}.png"));
        browse(&chrome, &format!("{base}{path}"), Some(&png));
        let bytes = std::fs::read(&png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{name}"
        );
        if let Some(dir) = std::env::var_os("RECOMMEND_SCREENSHOTS") {
            std::fs::copy(&png, Path::new(&dir).join(format!("{name}.png"))).unwrap();
        }
    }
}
