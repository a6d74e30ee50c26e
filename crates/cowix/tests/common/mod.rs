//! Helpers shared by the integration tests: running the `cowix` binary,
//! finding the guest programs `scripts/test` built, scratch directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The workspace root (two levels above this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A guest test program built from tests/guest/NAME.c by `scripts/test`.
pub fn guest(name: &str) -> PathBuf {
    let dir = std::env::var_os("COWIX_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/guest"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "guest program {} is not built: run scripts/test, which builds tests/guest/*.c with riscv64-linux-gnu-gcc",
        p.display()
    );
    p
}

/// Runs `cowix ARGS...` and returns its output.
pub fn cowix<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_cowix"))
        .args(args)
        .output()
        .expect("cannot start cowix")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `cowix run` of a guest from tests/guest, with `args`; panics with the
/// output if cowix itself failed to start.
pub fn run_guest(name: &str, args: &[&str]) -> Output {
    let g = guest(name);
    let mut v = vec![
        "run".to_string(),
        "--".to_string(),
        g.to_string_lossy().into_owned(),
    ];
    v.extend(args.iter().map(|s| s.to_string()));
    cowix(&v)
}

/// A scratch directory, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "cowix-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Copies a guest program into this directory as `name`, executable.
    pub fn install_guest(&self, guest_name: &str, name: &str) -> PathBuf {
        let dst = self.0.join(name);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::copy(guest(guest_name), &dst).unwrap();
        dst
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A root holding Debian's busybox-static (scripts/fetch-debian fetches it
/// into the ignored cache once); `None` if that failed.
pub fn busybox_root() -> Option<PathBuf> {
    static ROOT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let out = Command::new(workspace().join("scripts/fetch-debian"))
            .arg("busybox-static")
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "fetch-debian failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let root = String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()?
            .to_string();
        Some(root.into())
    })
    .clone()
}

/// The Debian packages the userland tests run (tests/debian.rs) and
/// bench/debian times; scripts/fetch-debian --deps adds their libraries.
pub const DEBIAN_PACKAGES: &[&str] = &["busybox-static", "lua5.4", "python3.13", "sqlite3"];

/// A root holding [`DEBIAN_PACKAGES`] and everything they depend on,
/// unpacked from Debian trixie riscv64 by scripts/fetch-debian --deps.
/// Panics (with fetch-debian's error) if that failed.
pub fn debian_root() -> PathBuf {
    static ROOT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let out = Command::new(workspace().join("scripts/fetch-debian"))
            .arg("--deps")
            .args(DEBIAN_PACKAGES)
            .output()
            .map_err(|e| format!("cannot run scripts/fetch-debian: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/fetch-debian --deps failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let root = String::from_utf8_lossy(&out.stdout);
        Ok(PathBuf::from(
            root.trim().lines().last().unwrap_or_default(),
        ))
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A scratch directory inside a guest root (under its /tmp), so the guest
/// sees it; removed when dropped.
pub struct GuestScratch {
    host: PathBuf,
    guest: String,
}

impl GuestScratch {
    pub fn new(root: &Path, tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let guest = format!(
            "/tmp/cowix-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let host = root.join(&guest[1..]);
        let _ = std::fs::remove_dir_all(&host);
        std::fs::create_dir_all(&host).unwrap();
        GuestScratch { host, guest }
    }

    /// The directory as the host sees it.
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The directory as the guest sees it (an absolute guest path).
    pub fn guest(&self) -> &str {
        &self.guest
    }
}

impl Drop for GuestScratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.host);
    }
}

/// `cowix run [OPTIONS] --root <busybox root> -- /usr/bin/busybox sh -c SCRIPT`
/// (PATH=/usr/bin:/bin, cwd /). Debian's root has no applet links, so
/// scripts call commands as `busybox NAME`.
pub fn busybox_sh_with(options: &[&str], script: &str) -> Output {
    let root = busybox_root().expect("scripts/fetch-debian busybox-static failed");
    let mut args: Vec<&str> = vec!["run"];
    args.extend_from_slice(options);
    let root = root.to_str().unwrap().to_string();
    args.extend_from_slice(&[
        "--root",
        &root,
        "--env",
        "PATH=/usr/bin:/bin",
        "--cwd",
        "/",
        "--",
        "/usr/bin/busybox",
        "sh",
        "-c",
        script,
    ]);
    cowix(&args)
}

/// The number ending the `--stats` line that contains `label`.
pub fn stat_value(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label} in {stderr}"));
    line.split_whitespace()
        .rev()
        .find_map(|w| w.parse().ok())
        .unwrap()
}
