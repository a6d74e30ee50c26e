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

/// Debian's python3.13 (in [`debian_root`]) running `script`, written to a
/// scratch directory in the root named after `tag`: `cowix run --root ROOT
/// --env PATH=/usr/bin:/bin --env HOME=/tmp -- /usr/bin/python3.13 SCRIPT`.
#[allow(dead_code)] // not every test binary runs python
pub fn debian_python(tag: &str, script: &str) -> Output {
    let root = debian_root();
    let dir = GuestScratch::new(&root, tag);
    std::fs::write(dir.host().join("t.py"), script).unwrap();
    let path = format!("{}/t.py", dir.guest());
    cowix([
        "run",
        "--root",
        &root.to_string_lossy(),
        "--env",
        "PATH=/usr/bin:/bin",
        "--env",
        "HOME=/tmp",
        "--",
        "/usr/bin/python3.13",
        &path,
    ])
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

/// How a guest program from tests/guest is linked: tests/guest/Makefile
/// builds each one twice, static (`$COWIX_GUEST_DIR/NAME`) and dynamic
/// (`$COWIX_GUEST_DIR/dyn/NAME`: PIE, `-z lazy`, run by the cross glibc's
/// ld.so inside [`dyn_root`]). Tests that hold for both take a `Link`
/// (see [`static_and_dynamic!`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Static,
    Dynamic,
}

impl Link {
    /// The guest root this variant runs in: the host's `/` (cowix's default
    /// root) for static programs, [`dyn_root`] for dynamic ones.
    pub fn root(self) -> PathBuf {
        match self {
            Link::Static => PathBuf::from("/"),
            Link::Dynamic => dyn_root(),
        }
    }

    /// The program's path as the guest names it inside [`Link::root`].
    pub fn guest(self, name: &str) -> String {
        match self {
            Link::Static => guest(name).to_string_lossy().into_owned(),
            Link::Dynamic => {
                let p = dyn_root().join(name);
                assert!(
                    p.exists(),
                    "dynamic guest program {} is not built: run scripts/test (make -C tests/guest)",
                    p.display()
                );
                format!("/{name}")
            }
        }
    }

    /// The program's file as the host sees it.
    pub fn host_path(self, name: &str) -> PathBuf {
        match self {
            Link::Static => guest(name),
            Link::Dynamic => {
                self.guest(name);
                dyn_root().join(name)
            }
        }
    }

    /// `cowix run OPTIONS --root ROOT -- PROGRAM ARGS...` for the guest
    /// program `name` linked this way.
    pub fn run(self, options: &[&str], name: &str, args: &[&str]) -> Output {
        let program = self.guest(name);
        let root = self.root();
        let mut v: Vec<&str> = vec!["run"];
        v.extend_from_slice(options);
        v.extend_from_slice(&["--root", root.to_str().unwrap(), "--", &program]);
        v.extend_from_slice(args);
        cowix(&v)
    }

    /// A scratch directory the guest sees (under the root's /tmp).
    pub fn scratch(self, tag: &str) -> GuestScratch {
        GuestScratch::new(&self.root(), tag)
    }

    /// `qemu-riscv64 [-L ROOT] PROGRAM ARGS...`: the same program on the
    /// host's Linux kernel (`None` if qemu-riscv64 is not installed).
    pub fn qemu(self, name: &str, args: &[&std::ffi::OsStr]) -> Option<Output> {
        let mut c = Command::new("qemu-riscv64");
        if self == Link::Dynamic {
            c.arg("-L").arg(dyn_root());
        }
        c.arg(self.host_path(name)).args(args).output().ok()
    }
}

/// Both links, static first.
pub const LINKS: [Link; 2] = [Link::Static, Link::Dynamic];

/// `static_and_dynamic! { /// doc \n fn scenario(link) { ... } }` makes a
/// module `scenario` with two tests, `static_link` and `dynamic_link`, each
/// running the body with its [`Link`], so a failure names the variant.
#[macro_export]
macro_rules! static_and_dynamic {
    ($($(#[$meta:meta])* fn $name:ident($link:ident) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn scenario($link: Link) $body
            #[test]
            fn static_link() {
                scenario(Link::Static)
            }
            #[test]
            fn dynamic_link() {
                scenario(Link::Dynamic)
            }
        }
    )*};
}

/// The libraries the dynamic guests need, from the cross toolchain's glibc
/// (Debian's libc6-riscv64-cross): its loader, which PT_INTERP names, and
/// what the programs (and pthread_exit/cancel's unwinder) load.
const CROSS_LIBS: &str = "/usr/riscv64-linux-gnu/lib";
const DYN_LIBS: &[&str] = &[
    "ld-linux-riscv64-lp64d.so.1",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
];

/// The guest root of the dynamic guest programs: `$COWIX_GUEST_DIR/dyn`,
/// where the Makefile puts them (so a program is `/NAME` in the guest),
/// with `lib` holding [`DYN_LIBS`]. ld.so finds them by its default path
/// (`/lib/` is one of its system directories; there is no ld.so.cache).
///
/// `lib` is a relative symlink to `.lib-HASH`, HASH naming the sources'
/// sizes and times: each directory is filled under a temporary name and
/// renamed into place, and the link is replaced by a rename, so parallel
/// test processes never see a partial `lib`, and a changed cross glibc
/// gets a new directory. Made once per test process.
pub fn dyn_root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let root = guest("dyn");
        make_dyn_lib(&root).unwrap_or_else(|e| panic!("dyn_root: {}: {e}", root.display()));
        root
    })
    .clone()
}

fn make_dyn_lib(root: &Path) -> std::io::Result<()> {
    use std::hash::{Hash, Hasher};
    let src = Path::new(CROSS_LIBS);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for name in DYN_LIBS {
        let m = std::fs::metadata(src.join(name))?;
        (name, m.len(), m.modified()?).hash(&mut h);
    }
    let dir_name = format!(".lib-{:016x}", h.finish());
    let dir = root.join(&dir_name);
    let unique = format!("{}-{:?}", std::process::id(), std::thread::current().id());
    if !dir.exists() {
        let tmp = root.join(format!(".lib-tmp-{unique}"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        for name in DYN_LIBS {
            std::fs::copy(src.join(name), tmp.join(name))?;
        }
        // Another process may have won the race: its directory is as good.
        if std::fs::rename(&tmp, &dir).is_err() {
            std::fs::remove_dir_all(&tmp)?;
        }
    }
    let link = root.join("lib");
    if std::fs::read_link(&link).ok().as_deref() != Some(Path::new(&dir_name)) {
        let tmp = root.join(format!(".lib-link-{unique}"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&dir_name, &tmp)?;
        std::fs::rename(&tmp, &link)?;
    }
    std::fs::create_dir_all(root.join("tmp"))
}
