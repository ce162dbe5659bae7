//! Headless Chromium for the report tests: the rendered DOM, the console
//! errors, and screenshots. Without a browser the tests skip that part,
//! saying why, except under CI=true, where a missing browser fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Browser {
    shots: PathBuf,
}

impl Browser {
    /// The browser, or None (after saying why) when it is not installed.
    pub fn find() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() {
            let why = format!("{CHROMIUM} is not installed (apt-get install chromium)");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true needs a browser: {why}"
            );
            eprintln!("skipped the browser checks: {why}");
            return None;
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
        let shots = target.join("report-screenshots");
        std::fs::create_dir_all(&shots).expect("create the screenshot folder");
        Some(Browser { shots })
    }

    fn run(&self, extra: &[String], page: &Path) -> (String, String) {
        let profile = std::env::temp_dir().join(format!(
            "temblor-chromium-{}-{}",
            std::process::id(),
            page.display().to_string().len() + extra.len()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .args([
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let out_reader = std::thread::spawn(move || read_all(&mut out));
        let err_reader = std::thread::spawn(move || read_all(&mut err));
        let deadline = Instant::now() + TIMEOUT;
        while child.try_wait().expect("wait for chromium").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromium took more than {TIMEOUT:?} on {}", page.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&profile);
        (out_reader.join().unwrap(), err_reader.join().unwrap())
    }

    /// The DOM after scripts ran, and the console's error lines.
    pub fn dump_dom(&self, page: &Path) -> (String, Vec<String>) {
        let (dom, log) = self.run(&["--dump-dom".to_string()], page);
        let errors = log
            .lines()
            .filter(|l| {
                l.contains("Uncaught")
                    || (l.contains("CONSOLE") && (l.contains(":ERROR:") || l.contains("Error")))
            })
            .map(str::to_string)
            .collect();
        (dom, errors)
    }

    /// Saves a 1400x2400 screenshot as `<name>.png`.
    pub fn screenshot(&self, page: &Path, name: &str) {
        let file = self.shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        self.run(
            &[
                format!("--screenshot={}", file.display()),
                "--window-size=1400,2400".to_string(),
            ],
            page,
        );
        assert!(file.is_file(), "no screenshot at {}", file.display());
        eprintln!("screenshot: {}", file.display());
    }
}

fn read_all(r: &mut impl std::io::Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}
