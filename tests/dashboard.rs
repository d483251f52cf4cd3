//! The operators' dashboard end to end in headless Chromium: mock-smev and the gateway run as processes, a request
//! is dead-lettered through mock-smev's fault injection, and the page (driven through chromedriver's WebDriver
//! HTTP API) must show the numbers the ops API reports, and its Retry button must move the dead letter back into
//! the queue. The test saves a screenshot of the page under `target/tmp/`, or to the tracked `docs/dashboard.png`
//! when `EDUGATE_REFRESH_DOCS=1` asks to refresh the docs' copy (so that a plain `cargo test` leaves the checkout
//! clean).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`EDUGATE_CHROMIUM` and `EDUGATE_CHROMEDRIVER` name other
//! binaries). Without them the test is skipped with a message, unless `EDUGATE_REQUIRE_BROWSER=1`, which makes a
//! missing browser a failure.
mod procs;

/// Environment variable that makes the test refresh the screenshot in `docs/` instead of writing under `target/`.
const REFRESH_DOCS: &str = "EDUGATE_REFRESH_DOCS";

/// Where the screenshot goes: `docs/dashboard.png` when `EDUGATE_REFRESH_DOCS=1`, else cargo's scratch directory
/// for integration tests (`target/tmp/`).
fn screenshot_path() -> PathBuf {
    if std::env::var(REFRESH_DOCS).is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dashboard.png")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png")
    }
}

use procs::{start_mock, wait_for, Control, Proc};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "dashboard-operator-token";
const VIEWER_TOKEN: &str = "dashboard-viewer-token";
const REQUIRE_BROWSER: &str = "EDUGATE_REQUIRE_BROWSER";

// ---------------------------------------------------------------------------------------------------------------
// Finding the browser.

/// Chromium and chromedriver, from the environment, `PATH` or Debian's places.
struct Browser {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn find_program(env: &str, names: &[&str], extra: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n)));
    on_path.chain(extra.iter().map(PathBuf::from)).find(|p| p.is_file())
}

/// The browser, or `None` after saying why the test is skipped (a failure under `EDUGATE_REQUIRE_BROWSER=1`).
fn browser() -> Option<Browser> {
    let chromium = find_program(
        "EDUGATE_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"],
        &["/usr/lib/chromium/chromium"],
    );
    let chromedriver = find_program("EDUGATE_CHROMEDRIVER", &["chromedriver"], &["/usr/lib/chromium/chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some(Browser { chromium, chromedriver }),
        (chromium, driver) => {
            let missing: Vec<&str> = [("chromium", chromium.is_none()), ("chromedriver", driver.is_none())]
                .into_iter()
                .filter_map(|(name, gone)| gone.then_some(name))
                .collect();
            let missing = missing.join(" and ");
            let required = std::env::var(REQUIRE_BROWSER).is_ok_and(|v| v == "1");
            assert!(
                !required,
                "{missing} not found (Debian packages chromium, chromium-driver), and {REQUIRE_BROWSER}=1"
            );
            // Straight to the terminal, past the test harness's capture, so that `make test` shows it.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED dashboard test: {missing} not found; install the Debian packages chromium and \
                 chromium-driver (scripts/install-deps.sh does) to run it"
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A small WebDriver client over reqwest.

/// chromedriver and the browsers it starts, in a process group of their own that is killed when this is dropped
/// (a browser outlives a killed chromedriver otherwise, e.g. when the test fails).
struct ChromeDriver {
    proc: Proc,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // After a clean end the session is closed and its browser gone; after a failure it may still run.
        if std::thread::panicking() {
            let group = format!("-{}", self.proc.child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        }
        self.proc.kill();
    }
}

fn start_chromedriver(bin: &Path, log: &Path) -> ChromeDriver {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(log).expect("chromedriver log");
    let mut child = Command::new(bin)
        .arg("--port=0")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn chromedriver");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                let _ = tx.send(rest.trim().trim_end_matches('.').to_string());
            }
        }
    });
    let port = rx.recv_timeout(Duration::from_secs(60)).expect("chromedriver printed its port");
    ChromeDriver { proc: Proc { child, addr: format!("127.0.0.1:{port}") } }
}

/// One WebDriver session.
struct WebDriver {
    http: reqwest::Client,
    session: String,
}

/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl WebDriver {
    /// Opens a session of headless Chromium that touches no network but the gateway's.
    async fn open(driver: &str, chromium: &Path, profile: &Path) -> WebDriver {
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-extensions".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            "--window-size=1280,800".into(),
            "--lang=en-US".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }}});
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().unwrap();
        let mut wd = WebDriver { http, session: format!("http://{driver}") };
        let value = wd.call("POST", "/session", Some(capabilities)).await.expect("a WebDriver session");
        let id = value["sessionId"].as_str().expect("sessionId").to_string();
        wd.session = format!("http://{driver}/session/{id}");
        wd
    }

    /// One command; the answer's `value`, or WebDriver's error as text.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let reply = request.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = reply.status();
        let text = reply.text().await.map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {} {}", v["value"]["error"], v["value"]["message"]));
        }
        Ok(v["value"].clone())
    }

    async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await.unwrap();
    }

    /// The first element matching a CSS selector, if any.
    async fn find(&self, css: &str) -> Option<String> {
        let v = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css }))).await.ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    async fn click(&self, element: &str) -> Result<Value, String> {
        self.call("POST", &format!("/element/{element}/click"), None).await
    }

    async fn type_text(&self, element: &str, text: &str) -> Result<Value, String> {
        self.call("POST", &format!("/element/{element}/clear"), None).await?;
        self.call("POST", &format!("/element/{element}/value"), Some(json!({ "text": text }))).await
    }

    /// Runs a script in the page; its return value.
    async fn script(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": [] }))).await.unwrap()
    }

    /// Sizes the window so that the page's viewport is `width` × `height` (the window's own frame takes some).
    async fn viewport(&self, width: i64, height: i64) {
        let (mut w, mut h) = (width, height);
        for _ in 0..3 {
            self.call("POST", "/window/rect", Some(json!({ "width": w, "height": h }))).await.unwrap();
            let inner = self.script("return [window.innerWidth, window.innerHeight]").await;
            let (iw, ih) = (inner[0].as_i64().unwrap_or(width), inner[1].as_i64().unwrap_or(height));
            if (iw, ih) == (width, height) {
                return;
            }
            w += width - iw;
            h += height - ih;
        }
    }

    /// Ends the session, which stops its browser.
    async fn quit(self) {
        let _ = self.call("DELETE", "", None).await;
    }

    /// A PNG of the viewport.
    async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None).await.unwrap();
        base64::engine::general_purpose::STANDARD.decode(v.as_str().expect("base64 PNG")).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The gateway and its ops API.

/// Starts the gateway against mock-smev with an operator's and a viewer's ops tokens.
fn start_gateway_with_ops(dir: &Path, mock_addr: &str) -> Proc {
    let tokens = format!(
        "[{{ name = \"duty\", token = \"{TOKEN}\", role = \"operator\" }}, \
         {{ name = \"watch\", token = \"{VIEWER_TOKEN}\", role = \"viewer\" }}]"
    );
    procs::start_gateway_with(dir, mock_addr, Some("warn"), &[("EDUGATE__OPS__TOKENS", tokens)])
}

/// The ops API, as the page sees it.
struct Ops {
    base: String,
    http: reqwest::Client,
}

impl Ops {
    async fn get(&self, path: &str) -> Value {
        let reply = self.http.get(format!("{}{path}", self.base)).bearer_auth(TOKEN).send().await.expect("ops API");
        let status = reply.status();
        let text = reply.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    async fn summary(&self) -> Value {
        self.get("/ops/api/summary").await
    }

    /// Every dead letter.
    async fn dead(&self) -> Vec<Value> {
        items(&self.get("/ops/api/items?state=dead&limit=100").await)
    }
}

/// The items of a list answer (an array, or an object holding one).
fn items(v: &Value) -> Vec<Value> {
    if let Some(a) = v.as_array() {
        return a.clone();
    }
    ["items", "dead", "results"].iter().find_map(|k| v[k].as_array().cloned()).unwrap_or_default()
}

/// The first of several field names present in `v`.
fn field<'a>(v: &'a Value, names: &[&str]) -> &'a Value {
    names.iter().map(|n| &v[n]).find(|f| !f.is_null()).unwrap_or(&Value::Null)
}

/// A count, whether given as a number or as `{total: n}` or an object of counts to add up.
fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::Object(o) => match field(v, &["total", "count", "value", "all"]) {
            Value::Null => o.values().map(count).sum(),
            t => count(t),
        },
        Value::Array(a) => a.iter().map(|x| count(field(x, &["count", "value", "total"])).or_else(|| count(x))).sum(),
        _ => None,
    }
}

fn item_id(v: &Value) -> String {
    match field(v, &["id", "item_id"]) {
        Value::String(s) => s.trim_start_matches('#').to_string(),
        other => other.to_string(),
    }
}

fn item_key(v: &Value) -> String {
    field(v, &["key", "idempotency_key"]).as_str().unwrap_or_default().to_string()
}

fn item_state(v: &Value) -> String {
    let s = field(v, &["state"]);
    let s = if s.is_object() { field(s, &["state", "kind"]) } else { s };
    s.as_str().unwrap_or_default().to_ascii_lowercase()
}

/// The numbers the page must show: per queue (pending, leased, completed, dead) and the three counters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Numbers {
    queues: Vec<(String, [Option<u64>; 4])>,
    counters: [Option<u64>; 3],
}

fn numbers_of_summary(summary: &Value) -> Numbers {
    let raw = field(summary, &["queues", "outbox", "queue_depths"]);
    let mut queues: Vec<(String, Value)> = match raw {
        Value::Array(a) => {
            a.iter().map(|q| (field(q, &["queue", "name"]).as_str().unwrap_or("").to_string(), q.clone())).collect()
        }
        Value::Object(o) => o.iter().map(|(k, q)| (k.clone(), q.clone())).collect(),
        _ => Vec::new(),
    };
    queues.sort_by(|a, b| a.0.cmp(&b.0));
    let queues = queues
        .into_iter()
        .map(|(name, q)| {
            let depth = match field(&q, &["depth", "states", "counts"]) {
                Value::Null => &q,
                d => d,
            };
            let n = |names: &[&str]| count(field(depth, names));
            (
                name,
                [n(&["pending"]), n(&["leased", "in_flight"]), n(&["completed", "done"]), n(&["dead", "dead_letters"])],
            )
        })
        .collect();
    let c = match field(summary, &["counters", "messages", "totals"]) {
        Value::Null => summary,
        c => c,
    };
    let n = |names: &[&str]| count(field(c, names));
    Numbers {
        queues,
        counters: [
            n(&["received", "received_total", "messages_received"]),
            n(&["sent", "sent_total", "messages_sent"]),
            n(&["acked", "acknowledged", "acked_total", "acknowledged_total", "messages_acked"]),
        ],
    }
}

/// What the page shows, read from its DOM.
const READ_PAGE: &str = r#"
const text = (root, sel) => { const e = root.querySelector(sel); return e ? e.textContent.trim() : null; };
const queues = [...document.querySelectorAll('#queues tbody tr')].map(tr => ({
  queue: tr.dataset.queue,
  pending: text(tr, '[data-col=pending]'), leased: text(tr, '[data-col=leased]'),
  completed: text(tr, '[data-col=completed]'), dead: text(tr, '[data-col=dead]'),
}));
const counters = ['received', 'sent', 'acked'].map(n => text(document, '#counter-' + n + ' [data-field=total]'));
const dead = [...document.querySelectorAll('#dead tbody tr')].map(tr => ({
  id: tr.dataset.itemId, key: text(tr, '[data-col=key]'), error: text(tr, '[data-col=error]'),
}));
const banner = document.getElementById('banner');
return {
  view: document.body.dataset.view, polls: Number(document.body.dataset.polls),
  banner: banner.hidden ? null : banner.textContent, signinError: text(document, '#signin-error'),
  deadNote: text(document, '#dead-note'), faults: document.querySelectorAll('#faults tbody tr').length,
  queues, counters, dead,
};
"#;

/// A number as the page prints it ("1,204", "—").
fn shown(v: &Value) -> Option<u64> {
    let s: String = v.as_str()?.chars().filter(|c| c.is_ascii_digit()).collect();
    s.parse().ok()
}

fn numbers_of_page(page: &Value) -> Numbers {
    let mut queues: Vec<(String, [Option<u64>; 4])> = page["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            let name = q["queue"].as_str().unwrap_or_default().to_string();
            (name, [shown(&q["pending"]), shown(&q["leased"]), shown(&q["completed"]), shown(&q["dead"])])
        })
        .collect();
    queues.sort_by(|a, b| a.0.cmp(&b.0));
    let c = |i: usize| shown(&page["counters"][i]);
    Numbers { queues, counters: [c(0), c(1), c(2)] }
}

/// Nothing pending or leased, and the same numbers twice in a row.
async fn quiet(ops: &Ops) -> Numbers {
    let mut last: Option<Numbers> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = numbers_of_summary(&ops.summary().await);
        let idle = now.queues.iter().all(|(_, n)| n[0] == Some(0) && n[1] == Some(0));
        if idle && last.as_ref() == Some(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "the gateway did not go quiet: {now:?}");
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn echo(text: &str) -> String {
    format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">{text}</e:Echo>")
}

// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_what_the_api_reports_and_retries_a_dead_letter() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let gateway = start_gateway_with_ops(dir.path(), &mock.addr);
    let ops = Ops { base: format!("http://{}", gateway.addr), http: reqwest::Client::new() };

    // Some traffic, a retried fault on polling, and one response that SMEV refuses for good: a dead letter.
    for i in 0..3 {
        let id = control.portal_send(&echo(&format!("проверка {i}"))).await;
        wait_for("an echo response", Duration::from_secs(60), || control.portal_response(&id)).await;
    }
    control.inject("GetRequest", "SMEVFailure", 2).await;
    control.inject("SendResponse", "InvalidContent", 1).await;
    let refused = control.portal_send(&echo("ответ, который СМЭВ отклонит")).await;
    let key = format!("response:{refused}");
    let dead = wait_for("the dead letter", Duration::from_secs(60), || async {
        ops.dead().await.into_iter().find(|d| item_key(d) == key)
    })
    .await;
    let dead_id = item_id(&dead);
    control.clear_faults().await;

    // The browser.
    let driver = start_chromedriver(&browser.chromedriver, &dir.path().join("chromedriver.log"));
    let profile = dir.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let wd = WebDriver::open(&driver.proc.addr, &browser.chromium, &profile).await;
    wd.goto(&format!("{}/ops/", ops.base)).await;
    wd.viewport(1280, 800).await;

    // A wrong token is refused plainly; the right one opens the dashboard.
    let sign_in = |token: &'static str| {
        let wd = &wd;
        async move {
            let input = wait_for("the token field", Duration::from_secs(30), || wd.find("#token")).await;
            wd.type_text(&input, token).await.unwrap();
            let button = wd.find("#signin-button").await.expect("the sign-in button");
            wd.click(&button).await.unwrap();
        }
    };
    sign_in("not-the-token").await;
    let refused_text = wait_for("the refusal", Duration::from_secs(30), || async {
        let page = wd.script(READ_PAGE).await;
        let error = page["signinError"].as_str().unwrap_or_default().to_string();
        (page["view"] == "signin" && error.contains("401")).then_some(error)
    })
    .await;
    assert!(refused_text.contains("refused"), "{refused_text}");
    sign_in(TOKEN).await;
    wait_for("the dashboard", Duration::from_secs(30), || async {
        let page = wd.script(READ_PAGE).await;
        (page["view"] == "dash" && page["polls"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    // More traffic while the page watches, so its rate charts move.
    for i in 0..4 {
        let id = control.portal_send(&echo(&format!("пока страница открыта {i}"))).await;
        wait_for("an echo response", Duration::from_secs(60), || control.portal_response(&id)).await;
    }

    // The page shows what the API reports.
    let expected = quiet(&ops).await;
    assert!(expected.queues.iter().any(|(_, n)| n[3].unwrap_or(0) >= 1), "a dead letter in the summary: {expected:?}");
    assert!(expected.counters.iter().all(|c| c.unwrap_or(0) > 0), "counters in the summary: {expected:?}");
    let page = wait_for("the page to show the API's numbers", Duration::from_secs(30), || async {
        let api = numbers_of_summary(&ops.summary().await);
        let page = wd.script(READ_PAGE).await;
        (numbers_of_page(&page) == api).then_some(page)
    })
    .await;
    assert!(page["banner"].is_null(), "no error on the page: {}", page["banner"]);
    let dead_rows = page["dead"].as_array().unwrap();
    let api_dead = ops.dead().await;
    assert_eq!(dead_rows.len(), api_dead.len(), "one row per dead letter: {page}");
    let row = dead_rows.iter().find(|r| r["id"] == dead_id.as_str()).expect("the dead letter's row");
    assert_eq!(row["key"], key.as_str());
    assert!(row["error"].as_str().unwrap_or_default().contains("InvalidContent"), "{row}");
    assert!(page["faults"].as_u64() >= Some(1), "recent faults are listed: {page}");

    // Steady traffic for a few polls, so that the charts and rates in the screenshot for the docs show it.
    let traffic = {
        let control = Control::new(&mock.addr);
        tokio::spawn(async move {
            for i in 0.. {
                control.portal_send(&echo(&format!("поток {i}"))).await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let polls = page["polls"].as_u64().unwrap_or(0);
    wait_for("more polls", Duration::from_secs(60), || async {
        (wd.script(READ_PAGE).await["polls"].as_u64() >= Some(polls + 6)).then_some(())
    })
    .await;
    let png = wd.screenshot().await;
    traffic.abort();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shot = screenshot_path();
    std::fs::write(&shot, &png).unwrap_or_else(|e| panic!("writing {}: {e}", shot.display()));
    println!("dashboard screenshot: {}", shot.display());

    // A viewer's Retry is refused, and the page says why; the item stays dead.
    let selector = format!("button[data-retry=\"{dead_id}\"]");
    let signed_in = || async {
        let page = wd.script(READ_PAGE).await;
        let fresh = page["view"] == "dash" && page["polls"].as_u64() >= Some(1) && page["dead"].as_array()?.len() == 1;
        fresh.then_some(())
    };
    let sign_out = || async {
        let button = wd.find("#signout").await.expect("the sign-out button");
        wd.click(&button).await.unwrap();
    };
    sign_out().await;
    sign_in(VIEWER_TOKEN).await;
    wait_for("the viewer's dashboard", Duration::from_secs(30), signed_in).await;
    wait_for("a click on Retry", Duration::from_secs(30), || async {
        let button = wd.find(&selector).await?;
        wd.click(&button).await.ok()
    })
    .await;
    let note = wait_for("the refusal", Duration::from_secs(30), || async {
        let note = wd.script(READ_PAGE).await["deadNote"].as_str().unwrap_or_default().to_string();
        note.contains("403").then_some(note)
    })
    .await;
    assert!(note.contains("may not retry"), "{note}");
    assert!(ops.dead().await.iter().any(|d| item_key(d) == key), "still dead after a viewer's retry");

    // The operator's Retry: the item leaves the dead letters, and the portal gets its response at last.
    sign_out().await;
    sign_in(TOKEN).await;
    wait_for("the operator's dashboard", Duration::from_secs(30), signed_in).await;
    wait_for("a click on Retry", Duration::from_secs(30), || async {
        let button = wd.find(&selector).await?;
        wd.click(&button).await.ok()
    })
    .await;
    wait_for("the item to leave the dead letters", Duration::from_secs(60), || async {
        let item = ops.get(&format!("/ops/api/items/{dead_id}")).await;
        let item = if item["item"].is_object() { item["item"].clone() } else { item };
        (item_state(&item) != "dead").then_some(())
    })
    .await;
    wait_for("the retried response at the portal", Duration::from_secs(60), || control.portal_response(&refused)).await;
    let page = wait_for("the page to drop the row", Duration::from_secs(30), || async {
        let page = wd.script(READ_PAGE).await;
        let gone = page["dead"].as_array().is_some_and(|rows| rows.iter().all(|r| r["id"] != dead_id.as_str()));
        gone.then_some(page)
    })
    .await;
    let note = page["deadNote"].as_str().unwrap_or_default();
    assert!(note.contains(&dead_id) && note.contains("pending again"), "the page confirms the retry: {note}");
    assert!(ops.dead().await.iter().all(|d| item_key(d) != key), "the API lists it no longer dead");

    wd.quit().await;
    drop(driver);
    drop(gateway);
    drop(mock);
}
