//! The guest's file system: a host directory (`--root`) seen as `/`.
//!
//! Every guest path is resolved here, one component at a time, as the Linux
//! kernel's `link_path_walk()` does, with the difference that the walk can
//! never leave the root: `..` at the root stays at the root (as in a chroot),
//! and a symbolic link is read and its target resolved *inside* the root,
//! whether it is absolute or relative. So no guest path, however crafted,
//! names a host file outside the root.
//!
//! Limits, as Linux: a path of at most `PATH_MAX` (4096) bytes, components of
//! at most `NAME_MAX` (255) bytes, at most 40 symbolic links per walk.
//!
//! Known gap: the walk checks each component with `lstat` and then opens the
//! resulting host path. A *host* process that swaps a directory for a symlink
//! between the two could escape; guest programs cannot, since every guest
//! change goes through this walk. (`openat2(RESOLVE_IN_ROOT)` would close it.)

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::errno::Errno;

/// Linux `PATH_MAX`, including the terminating NUL.
pub const PATH_MAX: usize = 4096;
/// Linux `NAME_MAX`.
pub const NAME_MAX: usize = 255;
/// Linux `MAXSYMLINKS`.
const MAX_SYMLINKS: u32 = 40;

/// The root of the guest file system.
#[derive(Debug, Clone)]
pub struct Vfs {
    root: PathBuf,
}

/// A resolved guest path: its normalized guest spelling (absolute, no `.`,
/// `..` or symlinks, except possibly a final symlink when not following)
/// and the host path it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub guest: String,
    pub host: PathBuf,
    /// The path lies in procfs (`/proc/...`): `host` means nothing, and
    /// [`crate::procfs`] serves it.
    pub proc: bool,
}

/// What a name under `/proc` is, as the path walk needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcNode {
    Dir,
    File,
    /// A symbolic link (`self`, `PID/exe`, ...), followed like any other.
    Link(Vec<u8>),
    /// `PID/fd/N`: a magic link. Followed as the last component it is not
    /// resolved as a path: the caller opens or stats the descriptor itself;
    /// elsewhere in a path its target text is walked.
    FdLink(Vec<u8>),
}

/// procfs's part in the path walk: what `/proc/<rest...>` is, if anything.
pub trait ProcLookup {
    fn lookup(&self, rest: &[Vec<u8>]) -> Option<ProcNode>;
}

/// The walk with no procfs: `/proc` is whatever the root holds.
struct NoProc;

impl ProcLookup for NoProc {
    fn lookup(&self, _rest: &[Vec<u8>]) -> Option<ProcNode> {
        None
    }
}

/// Whether a final symbolic link is followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, `lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    Yes,
    No,
}

impl Vfs {
    /// Opens the host directory `root` as the guest's `/`.
    pub fn new(root: &Path) -> io::Result<Self> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Vfs { root })
    }

    /// The host directory that is the guest's `/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves guest `path` relative to the guest directory `cwd` (an
    /// absolute, normalized guest path). A missing final component is not an
    /// error (the caller may create it); a missing or non-directory
    /// intermediate component is (ENOENT, ENOTDIR).
    pub fn resolve(&self, cwd: &str, path: &[u8], follow: Follow) -> Result<Resolved, Errno> {
        self.walk(cwd, path, follow, &NoProc, false)
    }

    /// [`resolve`](Self::resolve) with procfs mounted at `/proc`: names
    /// under it are looked up in `proc`, never on the host.
    pub fn resolve_with(
        &self,
        cwd: &str,
        path: &[u8],
        follow: Follow,
        proc: &dyn ProcLookup,
    ) -> Result<Resolved, Errno> {
        self.walk(cwd, path, follow, proc, true)
    }

    fn walk(
        &self,
        cwd: &str,
        path: &[u8],
        follow: Follow,
        proc: &dyn ProcLookup,
        proc_mounted: bool,
    ) -> Result<Resolved, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut done: Vec<Vec<u8>> = Vec::new();
        if path[0] != b'/' {
            done.extend(split(cwd.as_bytes()).map(<[u8]>::to_vec));
        }
        // Components still to walk, in order (reversed for cheap popping).
        let mut todo: Vec<Vec<u8>> = split(path).rev().map(<[u8]>::to_vec).collect();
        let trailing_slash = path.ends_with(b"/");
        let mut links = 0;
        while let Some(name) = todo.pop() {
            if name.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            match name.as_slice() {
                b"." => continue,
                b".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(name);
            let last = todo.is_empty();
            if proc_mounted && done[0] == b"proc" {
                let node = if done.len() == 1 {
                    ProcNode::Dir
                } else {
                    proc.lookup(&done[1..]).ok_or(Errno::ENOENT)?
                };
                let follow_here = !last || follow == Follow::Yes || trailing_slash;
                let target = match node {
                    ProcNode::Link(t) if follow_here => Some(t),
                    ProcNode::FdLink(t) if !last && follow_here => Some(t),
                    ProcNode::File if !last || trailing_slash => return Err(Errno::ENOTDIR),
                    _ => None,
                };
                if let Some(target) = target {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    done.pop();
                    if target.first() == Some(&b'/') {
                        done.clear();
                    }
                    todo.extend(split(&target).rev().map(<[u8]>::to_vec));
                }
                continue;
            }
            let host = self.host_path(&done);
            let meta = match fs::symlink_metadata(&host) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound && last => break,
                Err(e) => return Err(e.into()),
            };
            if meta.file_type().is_symlink() && (!last || follow == Follow::Yes || trailing_slash) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = fs::read_link(&host)?;
                let target = target.as_os_str().as_bytes();
                done.pop();
                if target.first() == Some(&b'/') {
                    done.clear();
                }
                todo.extend(split(target).rev().map(<[u8]>::to_vec));
                continue;
            }
            if !last && !meta.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if last && trailing_slash && !meta.is_dir() {
                return Err(Errno::ENOTDIR);
            }
        }
        Ok(Resolved {
            guest: guest_string(&done),
            host: self.host_path(&done),
            proc: proc_mounted && done.first().is_some_and(|c| c == b"proc"),
        })
    }

    /// Maps a host path back to the guest path naming it, if it lies inside the root.
    pub fn guest_path_of(&self, host: &Path) -> Option<String> {
        let rel = host.strip_prefix(&self.root).ok()?;
        let parts: Vec<Vec<u8>> = rel
            .components()
            .map(|c| c.as_os_str().as_bytes().to_vec())
            .collect();
        Some(guest_string(&parts))
    }

    fn host_path(&self, parts: &[Vec<u8>]) -> PathBuf {
        let mut p = self.root.clone();
        for part in parts {
            p.push(OsStr::from_bytes(part));
        }
        p
    }
}

/// The non-empty components of a slash-separated path.
fn split(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

fn guest_string(parts: &[Vec<u8>]) -> String {
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for part in parts {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(part));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A scratch root: /etc/hosts, /bin -> usr/bin, /usr/bin/prog, /abs -> /etc, /loop -> loop.
    fn scratch_root() -> (tempdir::TempDir, Vfs) {
        let dir = tempdir::TempDir::new();
        let r = dir.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        fs::create_dir_all(r.join("usr/bin")).unwrap();
        fs::write(r.join("usr/bin/prog"), "x").unwrap();
        symlink("usr/bin", r.join("bin")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../..", r.join("usr/bin/up")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        let vfs = Vfs::new(r).unwrap();
        (dir, vfs)
    }

    #[test]
    fn relative_and_absolute_paths_resolve_inside_root() {
        let (_d, vfs) = scratch_root();
        let r = vfs.resolve("/usr", b"bin/prog", Follow::Yes).unwrap();
        assert_eq!(r.guest, "/usr/bin/prog");
        assert_eq!(r.host, vfs.root().join("usr/bin/prog"));
        let r = vfs.resolve("/", b"/etc/./hosts", Follow::Yes).unwrap();
        assert_eq!(r.guest, "/etc/hosts");
    }

    #[test]
    fn dotdot_at_root_stays_at_root() {
        let (_d, vfs) = scratch_root();
        let r = vfs
            .resolve("/", b"../../../../etc/hosts", Follow::Yes)
            .unwrap();
        assert_eq!(r.host, vfs.root().join("etc/hosts"));
    }

    #[test]
    fn symlinks_resolve_inside_root() {
        let (_d, vfs) = scratch_root();
        assert_eq!(
            vfs.resolve("/", b"/bin/prog", Follow::Yes).unwrap().guest,
            "/usr/bin/prog"
        );
        // An absolute target is taken relative to the guest root, not the host's.
        assert_eq!(
            vfs.resolve("/", b"/abs/hosts", Follow::Yes).unwrap().guest,
            "/etc/hosts"
        );
        // A relative target climbing past the root stops at the root.
        let r = vfs
            .resolve("/", b"/usr/bin/up/etc/hosts", Follow::Yes)
            .unwrap();
        assert_eq!(r.host, vfs.root().join("etc/hosts"));
    }

    #[test]
    fn final_symlink_not_followed_on_request() {
        let (_d, vfs) = scratch_root();
        let r = vfs.resolve("/", b"/bin", Follow::No).unwrap();
        assert_eq!(r.guest, "/bin");
    }

    #[test]
    fn symlink_loop_is_eloop() {
        let (_d, vfs) = scratch_root();
        assert_eq!(vfs.resolve("/", b"/loop", Follow::Yes), Err(Errno::ELOOP));
    }

    #[test]
    fn missing_final_component_is_allowed_but_not_intermediate() {
        let (_d, vfs) = scratch_root();
        assert!(vfs.resolve("/", b"/etc/new-file", Follow::Yes).is_ok());
        assert_eq!(
            vfs.resolve("/", b"/nope/file", Follow::Yes),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            vfs.resolve("/", b"/etc/hosts/x", Follow::Yes),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            vfs.resolve("/", b"/etc/hosts/", Follow::Yes),
            Err(Errno::ENOTDIR)
        );
    }

    #[test]
    fn empty_and_overlong_paths_are_rejected() {
        let (_d, vfs) = scratch_root();
        assert_eq!(vfs.resolve("/", b"", Follow::Yes), Err(Errno::ENOENT));
        assert_eq!(
            vfs.resolve("/", &[b'a'; 300], Follow::Yes),
            Err(Errno::ENAMETOOLONG)
        );
        assert_eq!(
            vfs.resolve("/", &[b'a'; 5000], Follow::Yes),
            Err(Errno::ENAMETOOLONG)
        );
    }

    /// A minimal temporary directory, removed on drop (no extra dependency).
    mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicU32, Ordering};

        pub struct TempDir(PathBuf);
        impl TempDir {
            pub fn new() -> Self {
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "cowix-vfs-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                TempDir(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
