//! `--element-web` and `--base-redirect` on the wire: a fake unpacked Element Web release
//! (the layout of a real one: index.html, version, bundles/<hash>/, i18n/, config.json)
//! served by the real proxy, and what every response of the client's host carries.

use std::net::SocketAddr;
use std::path::Path;

use super::client::{Request, Response};
use super::stack::Stack;
use crate::common::proxy::{Options, Proxy, Running};

/// Framed, it tells its parent that it loaded: what the browser check below reads.
const INDEX: &str = "<!doctype html><title>Element</title><p id=app>fake Element Web\n\
    <script>if (parent !== window) parent.postMessage('loaded', '*');</script>\n";
/// webpack.config.js: `output.filename: "bundles/[hash]/[name].js"`.
const BUNDLE: &str = "/bundles/0123abcd/bundle.js";
const I18N: &str = "/i18n/en_EN.json";

/// Frames the URL in its query string and says whether the framed page ran: the paragraph
/// reads `framed:loaded` once the frame's message arrives, `framed:blocked` until then.
const ATTACKER: &str = "<!doctype html><title>attacker</title>\
    <p id=result>framed:blocked</p><script>\
    addEventListener('message', e => { if (e.data === 'loaded') \
    document.getElementById('result').textContent = 'framed:' + e.data; });\
    const frame = document.createElement('iframe');\
    frame.src = decodeURIComponent(location.search.slice(1));\
    document.body.appendChild(frame);</script>\n";

/// Headers every response of Element Web's host carries, each once (plan/web.rs).
const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-frame-options", "SAMEORIGIN"),
    ("content-security-policy", "frame-ancestors 'self'"),
    ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "1; mode=block"),
    ("x-robots-tag", "noindex, nofollow, noarchive, noimageindex"),
];

/// The files of a release, minus config.json (the generated one is copied in after
/// `mxproxy generate`).
pub fn unpack_fake_release(root: &Path) {
    for (path, body) in [
        ("index.html", INDEX),
        ("version", "1.12.26\n"),
        (&BUNDLE[1..], "console.log('bundle');\n"),
        (&I18N[1..], "{\"Hello\": \"Hello\"}\n"),
        ("welcome.html", "<p>welcome\n"),
        // Not part of a release: the browser check's page on another origin.
        ("attacker.html", ATTACKER),
    ] {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
}

/// Element's image is nginx serving the release with a server block of its own
/// (element-hq/element-web Dockerfile, docker/nginx-templates/default.conf.template): it
/// answers `/index.html`, `/version` and `/config*` with its own `Cache-Control: no-cache`.
/// The stand-in is the real nginx with a server block that does the same, listening where
/// `--element-web-upstream` points; the proxy's headers must replace, not add to, its own.
pub fn start_image_stand_in(dir: &Path, root: &Path, address: SocketAddr) -> Running {
    let image = dir.join("element-image");
    std::fs::create_dir_all(&image).unwrap();
    let site = image.join("default.conf");
    std::fs::write(
        &site,
        format!(
            "server {{\n    listen {address};\n    root {root};\n    index index.html;\n\
             \x20   location = /index.html {{ add_header Cache-Control \"no-cache\"; }}\n\
             \x20   location = /version {{ add_header Cache-Control \"no-cache\"; }}\n\
             \x20   location /config {{ add_header Cache-Control \"no-cache\"; }}\n}}\n",
            root = root.display()
        ),
    )
    .unwrap();
    Running::start(Proxy::Nginx, &image, &site, address.ip(), &[address.port()])
        .expect("nginx runs the image's stand-in")
}

pub fn element_options() -> Options {
    Options {
        element_web: true,
        base_redirect: Some("element-web".into()),
        ..Options::default()
    }
}

async fn get(stack: &Stack, host: &str, target: &str) -> Response {
    stack
        .client
        .send(&Request::get(stack.site_address(), host, target))
        .await
        .unwrap_or_else(|e| panic!("{:?} GET https://{host}{target}: {e}", stack.server))
}

/// Every security header exactly once with its value, and the one `Cache-Control` (or
/// none) expected for the path.
fn assert_client_headers(what: &str, response: &Response, cache_control: Option<&str>) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.header(name),
            [value],
            "{what}: {name}: {response:?}"
        );
    }
    let cache: Vec<String> = response.header("cache-control");
    match cache_control {
        Some(expected) => assert_eq!(cache, [expected], "{what}: {response:?}"),
        None => assert!(cache.len() <= 1, "{what}: {response:?}"),
    }
}

pub async fn element_web_on_its_own_host(server: Proxy) {
    client_host_headers_and_caching(server, element_options()).await;
}

/// The same through Element's own server (`--element-web-upstream`), which HAProxy and
/// Traefik can forward to: the stand-in sends its own `Cache-Control` on some paths.
pub async fn element_web_behind_its_image(server: Proxy) {
    let options = Options {
        element_web_upstream: Some("127.0.0.1:8081".parse().unwrap()),
        base_redirect: None,
        ..element_options()
    };
    client_host_headers_and_caching(server, options).await;
}

async fn client_host_headers_and_caching(server: Proxy, options: Options) {
    let stack = Stack::start(server, options).await;
    let host = stack.options.element_web_host().unwrap();
    const NO_CACHE: Option<&str> = Some("no-cache");
    const FOREVER: Option<&str> = Some("public, max-age=31536000, immutable");
    for (target, status, cache) in [
        ("/", 200, NO_CACHE),
        ("/index.html", 200, NO_CACHE),
        ("/version", 200, NO_CACHE),
        ("/config.json", 200, NO_CACHE),
        // Element asks for config.<its host>.json first; a 404 sends it to config.json.
        ("/config.chat.example.com.json", 404, None),
        (I18N, 200, NO_CACHE),
        (BUNDLE, 200, FOREVER),
        ("/welcome.html", 200, None),
        ("/no-such-file", 404, None),
        ("/bundles/0123abcd/missing.js", 404, None),
    ] {
        let what = format!("{server:?} GET https://{host}{target}");
        let response = get(&stack, &host, target).await;
        assert_eq!(response.status, status, "{what}: {response:?}");
        assert_client_headers(&what, &response, cache);
        if target == "/" {
            assert_eq!(response.body, INDEX.as_bytes(), "{what}");
        }
    }
    // Nothing of it reached the homeserver.
    assert!(stack.upstream.requests().is_empty(), "{server:?}");
}

/// config.json is the generated one, served as JSON, and names the homeserver as the
/// client well-known does.
pub async fn element_web_config_matches_the_well_known(server: Proxy) {
    let stack = Stack::start(server, element_options()).await;
    let host = stack.options.element_web_host().unwrap();
    let response = get(&stack, &host, "/config.json").await;
    let what = format!("{server:?} GET https://{host}/config.json");
    assert_eq!(response.status, 200, "{what}: {response:?}");
    let content_type = response.header("content-type");
    assert_eq!(content_type.len(), 1, "{what}: {response:?}");
    assert!(
        content_type[0].starts_with("application/json"),
        "{what}: {response:?}"
    );
    let config: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    // docs/config.md's keys, and those ESS writes with calls or MAS (src/plan/web.rs).
    let documented = [
        "default_server_config",
        "features",
        "element_call",
        "setting_defaults",
        "embedded_pages",
        "sso_redirect_options",
    ];
    for key in config.as_object().unwrap().keys() {
        assert!(
            documented.contains(&key.as_str()),
            "{what}: {key} is not in docs/config.md"
        );
    }
    let homeserver = &config["default_server_config"]["m.homeserver"];
    let client = stack.document("client");
    assert_eq!(
        homeserver["base_url"], client["m.homeserver"]["base_url"],
        "{what}: {config}"
    );
    assert_eq!(
        homeserver["server_name"], stack.options.server_name,
        "{what}: {config}"
    );
}

/// The homeserver host does not serve the client, and the server name's host sends
/// everything but its two documents to Element Web.
pub async fn base_redirect_spares_the_well_known(server: Proxy) {
    // Through Element's own server, which every proxy can forward to.
    let options = Options {
        element_web_upstream: Some("127.0.0.1:8081".parse().unwrap()),
        ..element_options()
    };
    let stack = Stack::start(server, options).await;
    let homeserver_host = stack.homeserver_host.clone();
    for target in ["/", "/index.html", BUNDLE, "/config.json"] {
        let response = get(&stack, &homeserver_host, target).await;
        assert_ne!(response.status, 200, "{server:?} {target}: {response:?}");
        assert!(
            !response.body.starts_with(INDEX.as_bytes()),
            "{server:?} {target}"
        );
    }
    let server_name = stack.options.server_name.clone();
    for target in [
        "/",
        "/index.html",
        "/a/b?c=d",
        "/.well-known/",
        "/.well-known/matrix",
    ] {
        let response = get(&stack, &server_name, target).await;
        let what = format!("{server:?} GET https://{server_name}{target}");
        assert_eq!(response.status, 301, "{what}: {response:?}");
        assert_eq!(
            response.header("location"),
            ["https://chat.example.com/"],
            "{what}: {response:?}"
        );
    }
    // Other documents below the prefix are not the redirect's either (Traefik routes them
    // to the homeserver, the others answer 404).
    let response = get(&stack, &server_name, "/.well-known/matrix/support").await;
    assert_ne!(response.status, 301, "{server:?}: {response:?}");
    assert!(
        response.header("location").is_empty(),
        "{server:?}: {response:?}"
    );
    for name in ["server", "client"] {
        let target = format!("/.well-known/matrix/{name}");
        let response = get(&stack, &server_name, &target).await;
        let what = format!("{server:?} GET https://{server_name}{target}");
        assert_eq!(response.status, 200, "{what}: {response:?}");
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("{what}: {e}: {response:?}"));
        assert_eq!(body, stack.document(name), "{what}");
    }
}

/// The attacker's page at http://127.0.0.1:8081 (Element's image stand-in serves it; an
/// origin of its own, on loopback like the others, so that Chromium's private-network
/// rules do not block the frame for another reason) frames `url` in headless Chromium;
/// what its paragraph says once the page loaded (a frame holds up its parent's load event).
fn frame_in_chromium(chromium: &Path, dir: &Path, url: &str) -> String {
    let page = format!(
        "http://127.0.0.1:8081/attacker.html?{}",
        percent_encoding::utf8_percent_encode(url, percent_encoding::NON_ALPHANUMERIC)
    );
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            // The test CA is not in Chromium's store; the frame check is not about TLS.
            "--ignore-certificate-errors",
            // Element Web's host, and the image stand-in under a name of another origin.
            "--host-resolver-rules=MAP chat.example.com 127.0.0.1, MAP control.test 127.0.0.1",
            "--virtual-time-budget=6000",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join("chromium").display()
        ))
        .arg(&page)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    // Only the paragraph counts: the script's own text names the other outcome too.
    match ["framed:loaded", "framed:blocked"]
        .into_iter()
        .find(|result| dom.contains(&format!("<p id=\"result\">{result}</p>")))
    {
        Some(result) => result.to_string(),
        None => panic!(
            "no result in chromium's DOM:\n{dom}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// A real browser refuses to show the client inside another origin's page (X-Frame-Options
/// and CSP frame-ancestors), while the same page from Element's own server, without the
/// proxy's headers, loads in the frame: the check can tell the two apart.
pub async fn element_web_refuses_foreign_frames(server: Proxy) {
    let Some(chromium) = crate::common::require_tool("chromium") else {
        return;
    };
    let options = Options {
        element_web_upstream: Some("127.0.0.1:8081".parse().unwrap()),
        base_redirect: None,
        ..element_options()
    };
    let stack = Stack::start(server, options).await;
    let dir = tempfile::tempdir().unwrap();
    let (control, client) = tokio::task::block_in_place(|| {
        (
            frame_in_chromium(&chromium, dir.path(), "http://control.test:8081/index.html"),
            frame_in_chromium(&chromium, dir.path(), "https://chat.example.com/"),
        )
    });
    assert_eq!(
        control, "framed:loaded",
        "{server:?}: the page without the headers did not load in the frame"
    );
    assert_eq!(
        client, "framed:blocked",
        "{server:?}: Element Web loaded inside another origin's frame"
    );
    drop(stack);
}
