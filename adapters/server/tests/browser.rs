//! The Broker Integration page in a real browser: Debian's headless `chromium`, driven through
//! `chromium-driver` (WebDriver) with fantoccini, against brokerd on port 0 in this process.
//!
//! Each step is screenshotted at desktop (1280x900) and phone (375x812) width into
//! `<target dir>/screenshots/`. Every test also reads back from the browser what a leak would
//! leave behind: localStorage, sessionStorage, cookies, the address bar and the console log.
//!
//! Without chromium the tests print why and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] functions

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{App, Backing, assert_no_secret_logged, token};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use vault::UserId;

mod common;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the page may take to show the outcome of an action.
const PATIENCE: Duration = Duration::from_secs(20);

/// One browser at a time: the machine has two cores, and each test has its own Chromium.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The widths every step is screenshotted at: name, width, height, mobile emulation.
const VIEWPORTS: [(&str, u32, u32, bool); 2] =
    [("desktop", 1280, 900, false), ("phone", 375, 812, true)];

// ---------------------------------------------------------------------------------------------
// The browser

/// The paths of chromium and its driver, or `None` (with the reason printed) when a test must
/// skip. Under `CI=true` a missing browser fails instead.
fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return Some((PathBuf::from(CHROMIUM), PathBuf::from(CHROMEDRIVER)));
    }
    let reason = format!(
        "{} missing: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "browser tests cannot run under CI: {reason}"
    );
    eprintln!("skipped: {reason}");
    None
}

/// A chromedriver process, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebDriver command of chromedriver's own: `POST /session/{id}/{path}` with a JSON body.
#[derive(Debug)]
struct ChromeCommand {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.body.to_string()))
    }
}

/// A headless Chromium session on the page, with what the test needs to drive and inspect it.
struct Browser {
    client: Client,
    _driver: Driver,
    base: String,
    test: &'static str,
    step: usize,
    console: Vec<String>,
}

impl Browser {
    async fn open(test: &'static str, base: &str) -> Option<Self> {
        let (chromium, chromedriver) = browser_paths()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Driver(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,900", "--lang=en-US"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }))
        .unwrap();
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("open a Chromium session");
        let browser = Self {
            client,
            _driver: driver,
            base: base.to_owned(),
            test,
            step: 0,
            console: Vec::new(),
        };
        // Scrollbars would take their width off the screenshots.
        browser
            .cdp("Emulation.setScrollbarsHidden", json!({"hidden": true}))
            .await;
        browser.viewport(VIEWPORTS[0]).await;
        Some(browser)
    }

    async fn cdp(&self, command: &str, params: Value) -> Value {
        self.client
            .issue_cmd(ChromeCommand {
                path: "goog/cdp/execute",
                body: json!({"cmd": command, "params": params}),
            })
            .await
            .unwrap_or_else(|error| panic!("{command}: {error}"))
    }

    async fn viewport(&self, (_, width, height, mobile): (&str, u32, u32, bool)) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
    }

    /// Opens `path` of brokerd.
    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// Screenshots the whole page at each width, as `<test>-<nn>-<step>-<width>.png`.
    async fn shot(&mut self, step: &str) {
        self.step += 1;
        let directory = screenshot_dir();
        std::fs::create_dir_all(&directory).unwrap();
        for viewport in VIEWPORTS {
            self.viewport(viewport).await;
            let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
            let size = &metrics["cssContentSize"];
            let png = self
                .cdp(
                    "Page.captureScreenshot",
                    json!({"format": "png", "captureBeyondViewport": true,
                           "clip": {"x": 0, "y": 0, "width": size["width"],
                                    "height": size["height"], "scale": 1}}),
                )
                .await;
            let bytes = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                png["data"].as_str().unwrap(),
            )
            .unwrap();
            let name = format!("{}-{:02}-{step}-{}.png", self.test, self.step, viewport.0);
            std::fs::write(directory.join(name), bytes).unwrap();
            let overflow = self
                .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                .await;
            assert!(
                overflow.as_i64().unwrap_or(1) <= 0,
                "{step}: the page is wider than the {} viewport by {overflow} px",
                viewport.0
            );
        }
        self.assert_labelled(step).await;
        self.viewport(VIEWPORTS[0]).await;
    }

    /// Every visible field has a label and every visible button or link a name.
    async fn assert_labelled(&self, step: &str) {
        let unlabelled = self
            .script(
                "const visible = (e) => e.offsetParent !== null;
                 const fields = [...document.querySelectorAll('input, select, textarea')]
                   .filter((e) => visible(e) && e.labels.length === 0 && !e.getAttribute('aria-label'));
                 const controls = [...document.querySelectorAll('button, a')]
                   .filter((e) => visible(e) && !(e.getAttribute('aria-label') || e.textContent.trim()));
                 return [...fields, ...controls].map((e) => e.outerHTML.slice(0, 80));",
            )
            .await;
        assert_eq!(unlabelled, json!([]), "{step}: unlabelled controls");
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("{css} never appeared: {error}"))
    }

    async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Waits until the visible text of `css` contains `expected`, and answers it.
    async fn wait_text(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(expected) {
                return text;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{css} never said {expected:?}; it says {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until exactly `expected` elements match `css` (the page re-renders a list after
    /// its result line changes, not before).
    async fn wait_count(&self, css: &str, expected: usize) {
        let started = Instant::now();
        loop {
            let count = self.client.find_all(Locator::Css(css)).await.unwrap().len();
            if count == expected {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{css} matched {count} elements, never {expected}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn is_displayed(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    async fn script(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// Drains the browser's console log into `self.console`.
    async fn read_console(&mut self) {
        let entries = self
            .client
            .issue_cmd(ChromeCommand {
                path: "se/log",
                body: json!({"type": "browser"}),
            })
            .await
            .unwrap();
        for entry in entries.as_array().into_iter().flatten() {
            self.console
                .push(entry["message"].as_str().unwrap_or_default().to_owned());
        }
    }

    /// Nothing a leak would leave: no storage or cookie at all, no query in the address bar,
    /// none of `secrets` in the URL, the page's markup and field values, or the console; and no
    /// uncaught script error.
    async fn assert_nothing_leaked(&mut self, secrets: &[&str]) {
        let url = self.client.current_url().await.unwrap();
        assert_eq!(url.query(), None, "the address bar keeps a query: {url}");
        let kept = self
            .script(
                "return {local: localStorage.length, session: sessionStorage.length,
                         cookie: document.cookie, html: document.documentElement.outerHTML,
                         values: [...document.querySelectorAll('input')].map((i) => i.value).join(' ')};",
            )
            .await;
        assert_eq!(kept["local"], 0, "localStorage holds something");
        assert_eq!(kept["session"], 0, "sessionStorage holds something");
        assert_eq!(kept["cookie"], "", "a cookie was set");
        self.read_console().await;
        for secret in secrets {
            assert!(!url.as_str().contains(secret), "a secret is in the URL");
            assert!(
                !kept["html"].as_str().unwrap().contains(secret),
                "a secret is in the page"
            );
            assert!(
                !kept["values"].as_str().unwrap().contains(secret),
                "a secret stays in a field"
            );
            assert!(
                !self.console.iter().any(|line| line.contains(secret)),
                "a secret is in the console"
            );
        }
        let uncaught: Vec<&String> = self
            .console
            .iter()
            .filter(|line| line.contains("Uncaught"))
            .collect();
        assert!(uncaught.is_empty(), "script errors: {uncaught:?}");
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// `<target dir>/screenshots`: the test binary lives in `<target dir>/<profile>/deps/`.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("the test binary is under <target>/<profile>/deps")
        .join("screenshots")
}

// ---------------------------------------------------------------------------------------------
// brokerd

/// Saves an account through the API without verification; answers its id.
async fn saved_account(base: &str, token: &str, body: Value) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/v1/accounts?verify=false"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id"]
        .as_str()
        .or(answer["account"]["id"].as_str())
        .unwrap()
        .to_owned()
}

async fn accounts_of(base: &str, token: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{base}/v1/accounts"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn a_user_signed_in_with_a_pasted_token_sees_and_manages_only_their_accounts() {
    let _one = ONE_BROWSER.lock().await;
    let app = App::start(Backing::File).await.unwrap();
    let base = app.base.clone();
    let Some(mut browser) = Browser::open("token", &base).await else {
        return;
    };
    let (alice, bob) = (token(UserId::new_random()), token(UserId::new_random()));
    let angel = saved_account(
        &base,
        &alice,
        json!({"broker": "angel_one", "api_key": "smartKEYalice1", "client_code": "A1234567",
               "mpin": "4831", "totp_secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}),
    )
    .await;
    let kite = saved_account(
        &base,
        &alice,
        json!({"broker": "zerodha", "api_key": "kitekeyalice1", "api_secret": "kitesecretalice1"}),
    )
    .await;
    let bobs = saved_account(
        &base,
        &bob,
        json!({"broker": "angel_one", "api_key": "smartKEYbob99", "client_code": "B7654321",
               "mpin": "9911", "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}),
    )
    .await;

    browser.goto("/").await;
    browser.wait_for("#token-form:not([hidden])").await;
    browser.shot("sign-in").await;

    browser.fill("#token", "not-a-token").await;
    browser.click("#token-form button[type=submit]").await;
    browser
        .wait_text("#token-error", "The token was refused")
        .await;
    assert!(!browser.is_displayed("#signed-in").await);
    browser.shot("token-refused").await;

    browser.fill("#token", &alice).await;
    browser.click("#token-form button[type=submit]").await;
    browser
        .wait_for(&format!("li[data-account='{kite}']"))
        .await;
    browser.wait_count("#account-list > li", 2).await;
    let page = browser.text("#account-list").await;
    assert!(page.contains("Angel One") && page.contains("Zerodha"));
    assert!(page.contains("Not verified yet"), "status badge: {page}");
    assert!(
        !browser.is_displayed("#run-demo-slot").await,
        "the demo slot is for the sandbox only"
    );
    browser
        .assert_nothing_leaked(&[&alice, &bobs, "B7654321"])
        .await;
    browser.shot("accounts").await;

    // Auto-execute on, through the keyboard: focus the switch and press space.
    let toggle = format!("input[data-action='auto-execute'][data-account='{angel}']");
    browser
        .wait_for(&toggle)
        .await
        .send_keys(" ")
        .await
        .unwrap();
    browser
        .wait_text(&format!("[data-note='{angel}']"), "Auto-execute is on")
        .await;
    let saved = accounts_of(&base, &alice).await;
    assert!(
        saved
            .iter()
            .any(|account| account["id"] == angel.as_str() && account["auto_execute"] == true)
    );
    browser.shot("auto-execute-on").await;

    // Remove asks first; "Keep it" keeps the account.
    let remove = format!("button[data-action='remove'][data-account='{kite}']");
    browser.click(&remove).await;
    browser.wait_for("#confirm-remove[open]").await;
    browser.shot("remove-confirm").await;
    browser
        .click("#confirm-remove button[value='cancel']")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(accounts_of(&base, &alice).await.len(), 2);
    browser.click(&remove).await;
    browser.click("#confirm-remove-yes").await;
    browser
        .wait_text("#account-result", "Account removed")
        .await;
    browser.wait_count("#account-list > li", 1).await;
    assert_eq!(accounts_of(&base, &alice).await.len(), 1);
    assert_eq!(
        accounts_of(&base, &bob).await.len(),
        1,
        "bob's account untouched"
    );
    browser.shot("removed").await;

    // Signing out forgets the token and every account on the page.
    browser.click("#sign-out").await;
    browser.wait_for("#token-form:not([hidden])").await;
    browser.wait_count("#account-list > li", 0).await;
    browser.assert_nothing_leaked(&[&alice, &bob]).await;
    browser.close().await;
    assert_no_secret_logged(&[
        "smartKEYalice1",
        "kitesecretalice1",
        "smartKEYbob99",
        &alice,
    ]);
}

#[tokio::test]
async fn back_from_kite_the_page_clears_the_query_and_shows_the_result_after_sign_in() {
    let _one = ONE_BROWSER.lock().await;
    let app = App::start(Backing::File).await.unwrap();
    let base = app.base.clone();
    let Some(mut browser) = Browser::open("kite-return", &base).await else {
        return;
    };
    let (alice, bob) = (token(UserId::new_random()), token(UserId::new_random()));
    let kite = saved_account(
        &base,
        &alice,
        json!({"broker": "zerodha", "api_key": "kitekeyalice2", "api_secret": "kitesecretalice2"}),
    )
    .await;

    // The callback's redirect lands on a fresh page: the token in memory is gone.
    browser
        .goto(&format!("/?kite=connected&account={kite}"))
        .await;
    browser.wait_text("#kite-pending", "Sign in again").await;
    browser.assert_nothing_leaked(&[&alice]).await;
    browser.shot("kite-back-signed-out").await;
    browser.fill("#token", &alice).await;
    browser.click("#token-form button[type=submit]").await;
    browser
        .wait_text("#kite-result", "Zerodha account connected")
        .await;
    browser.shot("kite-connected").await;

    // Another user's account id in the URL shows nothing of that account.
    browser
        .goto(&format!("/?kite=connected&account={kite}"))
        .await;
    browser.fill("#token", &bob).await;
    browser.click("#token-form button[type=submit]").await;
    browser.wait_text("#kite-result", "not one of yours").await;
    browser.wait_count("#account-list > li", 0).await;

    browser.goto("/?kite=failed&reason=expired_state").await;
    browser.fill("#token", &alice).await;
    browser.click("#token-form button[type=submit]").await;
    browser.wait_text("#kite-result", "expired").await;
    browser.shot("kite-failed").await;
    browser.assert_nothing_leaked(&[&alice, &bob]).await;
    browser.close().await;
    assert_no_secret_logged(&["kitesecretalice2", &alice, &bob]);
}

// ---------------------------------------------------------------------------------------------
// The sandbox: brokerd with both simulators in this process

/// The sandbox's demo credentials (what `brokerd --sandbox` prints).
const ANGEL_DEMO: [(&str, &str); 4] = [
    ("#ao-api-key", "SIMKEY1"),
    ("#ao-client-code", "S1234"),
    ("#ao-mpin", "1234"),
    ("#ao-totp-secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
];
const KITE_DEMO: [(&str, &str); 2] = [("#z-api-key", "simkey"), ("#z-api-secret", "simsecret")];
/// Every JWT starts with this (base64url of `{"`): no token may be left anywhere.
const ANY_JWT: &str = "eyJ";

/// `brokerd --sandbox` on a free loopback port, its demo slot far away; answers its base URL.
async fn spawn_sandbox() -> (String, tempfile::TempDir) {
    common::logs();
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = brokerd::Config {
        listen: ([127, 0, 0, 1], port).into(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let options = brokerd::sandbox::SandboxOptions {
        demo_slot_in: Duration::from_secs(3600),
        exit_after_demo: false,
    };
    // The sandbox's future is not `Send` for every lifetime, so it runs on a runtime of its own.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let outcome = runtime.block_on(brokerd::sandbox::run(config, options));
        eprintln!("the sandbox stopped: {outcome:?}");
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        // Ready once the demo tenants are onboarded: alice has her account.
        if let Some(token) = sandbox_token(&client, &base, "alice").await
            && !accounts_of(&base, &token).await.is_empty()
        {
            return (base, dir);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sandbox did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sandbox_token(client: &reqwest::Client, base: &str, user: &str) -> Option<String> {
    let answer = client
        .post(format!("{base}/v1/sandbox/token"))
        .json(&json!({"user": user}))
        .send()
        .await
        .ok()?;
    let body: Value = answer.json().await.ok()?;
    body["token"].as_str().map(str::to_owned)
}

impl Browser {
    async fn sign_in_as_new_demo_user(&self, name: &str) {
        browser_wait_sandbox(self).await;
        self.fill("#demo-user", name).await;
        self.click("#demo-user-form button[type=submit]").await;
        self.wait_for("#signed-in:not([hidden])").await;
    }
}

async fn browser_wait_sandbox(browser: &Browser) {
    browser.wait_for("#sandbox-sign-in:not([hidden])").await;
}

#[tokio::test]
async fn a_new_angel_one_user_registers_fixes_the_ip_verifies_and_sees_the_run() {
    let _one = ONE_BROWSER.lock().await;
    let (base, _dir) = spawn_sandbox().await;
    let Some(mut browser) = Browser::open("angel-one", &base).await else {
        return;
    };
    let client = reqwest::Client::new();
    let alice = sandbox_token(&client, &base, "alice").await.unwrap();
    let alices: Vec<String> = accounts_of(&base, &alice)
        .await
        .iter()
        .map(|account| account["id"].as_str().unwrap().to_owned())
        .collect();

    browser.goto("/").await;
    browser_wait_sandbox(&browser).await;
    browser.shot("sandbox-sign-in").await;
    browser.sign_in_as_new_demo_user("dana").await;

    // The IP to register, in large type, before anything is entered.
    let ip = browser.wait_text("#egress-ip", ".").await;
    assert!(
        ip.parse::<std::net::IpAddr>().is_ok(),
        "egress IP shown: {ip:?}"
    );
    browser
        .wait_text("#egress-instructions", "smartapi.angelbroking.com")
        .await;
    browser.wait_count("#account-list > li", 0).await;
    let html = browser.script("return document.body.innerHTML;").await;
    for id in &alices {
        assert!(
            !html.as_str().unwrap().contains(id.as_str()),
            "alice's account shows"
        );
    }
    browser.shot("connect-angel-one").await;

    for (field, value) in ANGEL_DEMO {
        browser.fill(field, value).await;
    }
    browser.shot("angel-one-form-filled").await;
    browser.click("#angel-one-form button[type=submit]").await;
    let refused = browser
        .wait_text("#connect-result", "The broker refused this IP")
        .await;
    assert!(refused.contains(&ip), "the refusal shows the IP: {refused}");
    assert!(
        refused.contains("My APIs"),
        "and where to register it: {refused}"
    );
    browser
        .assert_nothing_leaked(&["SIMKEY1", "GEZDGNBVGY3TQOJQ", ANY_JWT])
        .await;
    browser.shot("ip-not-whitelisted").await;

    // What the user does in SmartAPI's dashboard, done at the simulator.
    browser
        .click("#connect-result button[data-action='whitelist']")
        .await;
    browser
        .wait_text("#connect-result", "IP registered at the simulator")
        .await;
    browser
        .click("#connect-result button[data-action='verify']")
        .await;
    browser.wait_text("#connect-result", "Connected").await;
    let card = browser.wait_text("#account-list", "Connected").await;
    assert!(card.contains(&ip), "the card shows the IP: {card}");
    assert!(!card.contains("S1234"), "the client code is masked: {card}");
    browser.shot("verified").await;

    browser
        .wait_for("input[data-action='auto-execute']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_text("#account-list .result", "Auto-execute is on")
        .await;
    browser.shot("auto-execute-on").await;

    browser.click("#run-demo-slot").await;
    browser
        .wait_text("#run-list", "Placed with the broker")
        .await;
    let runs = browser.text("#run-list").await;
    assert!(runs.contains("BUY 1 SBIN-EQ"), "runs: {runs}");
    browser.shot("run").await;
    browser
        .assert_nothing_leaked(&["SIMKEY1", "GEZDGNBVGY3TQOJQ", ANY_JWT])
        .await;
    browser.close().await;
    assert_no_secret_logged(&["SIMKEY1", ANY_JWT]);
}

#[tokio::test]
async fn a_new_zerodha_user_logs_in_through_the_kite_login_page_and_is_connected() {
    let _one = ONE_BROWSER.lock().await;
    let (base, _dir) = spawn_sandbox().await;
    let Some(mut browser) = Browser::open("zerodha", &base).await else {
        return;
    };
    browser.goto("/").await;
    browser.sign_in_as_new_demo_user("erin").await;
    browser.click("input[name='broker'][value='zerodha']").await;
    browser
        .wait_text("#egress-instructions", "developers.kite.trade")
        .await;
    browser
        .wait_text("#redirect-url", "/v1/zerodha/callback")
        .await;
    browser.shot("connect-zerodha").await;
    for (field, value) in KITE_DEMO {
        browser.fill(field, value).await;
    }
    browser.click("#zerodha-form button[type=submit]").await;
    browser
        .wait_text("#connect-result", "now log in with Kite")
        .await;
    browser.assert_nothing_leaked(&["simsecret", ANY_JWT]).await;
    browser.shot("zerodha-saved").await;

    // The IP whitelist of the Kite app, done at the simulator, then the login.
    browser
        .click("#account-list button[data-action='whitelist']")
        .await;
    browser
        .wait_text("#account-list .result", "IP registered at the simulator")
        .await;
    browser
        .click("#connect-result a[data-action='kite-login']")
        .await;

    // Kite's login page sends the browser to brokerd's callback, which sends it to the page.
    browser.wait_text("#kite-pending", "Sign in again").await;
    browser.assert_nothing_leaked(&["simsecret", ANY_JWT]).await;
    browser.shot("back-from-kite").await;
    browser.fill("#demo-user", "erin").await;
    browser.click("#demo-user-form button[type=submit]").await;
    browser
        .wait_text("#kite-result", "Zerodha account connected")
        .await;
    browser.wait_text("#account-list", "Connected").await;
    browser.shot("zerodha-connected").await;
    browser.assert_nothing_leaked(&["simsecret", ANY_JWT]).await;

    // Another user sees none of erin's accounts.
    browser.click("#sign-out").await;
    browser.click("button[data-user='alice']").await;
    browser.wait_text("#account-list", "Angel One").await;
    let alices = browser.text("#account-list").await;
    assert!(
        !alices.contains("Zerodha"),
        "alice sees erin's account: {alices}"
    );
    browser.shot("another-user").await;
    browser.close().await;
    assert_no_secret_logged(&["simsecret", ANY_JWT]);
}
