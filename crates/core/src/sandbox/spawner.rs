//! Starting and ending worker processes so that none outlives its host.
//!
//! - Workers are forked by one dedicated thread that lives as long as the
//!   pool: `PR_SET_PDEATHSIG` fires when the *thread* that forked a child
//!   exits, and tokio's threads come and go. With SIGKILL as the parent-death
//!   signal, a worker dies with its host however the host ends (exit,
//!   SIGTERM, SIGINT, SIGKILL), even while user code spins.
//! - Every worker that ends is waited for ([`reap`]), so none is left a
//!   zombie.
//! - Folders of the pool are removed when the host exits normally (an
//!   `atexit` hook, which also kills the workers first), and folders left by
//!   a host that was killed are swept when the next pool starts.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::process::{Child, Command};

use super::isolation::Prepared;
use tokio::sync::oneshot;

type Request = (Command, oneshot::Sender<io::Result<Child>>);

/// The thread that forks workers.
pub struct Spawner {
    tx: Mutex<std::sync::mpsc::Sender<Request>>,
}

impl Spawner {
    pub fn start(rt: tokio::runtime::Handle) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("runtime-spawner".into())
            .spawn(move || {
                // tokio's process support needs the runtime's reactor.
                let _guard = rt.enter();
                while let Ok((mut cmd, reply)) = rx.recv() {
                    // Nobody waits for it any more (its pool went away):
                    // end it rather than leave it to tokio's orphan queue.
                    if let Err(Ok(child)) = reply.send(cmd.spawn()) {
                        reap(child);
                    }
                }
            })?;
        Ok(Spawner { tx: Mutex::new(tx) })
    }

    /// Starts `cmd` with `isolation` applied between fork and exec.
    pub async fn spawn(&self, mut cmd: Command, isolation: Prepared) -> io::Result<Child> {
        die_with_parent(&mut cmd, isolation);
        let (reply, rx) = oneshot::channel();
        let sent = match self.tx.lock() {
            Ok(tx) => tx.send((cmd, reply)).is_ok(),
            Err(_) => false,
        };
        if !sent {
            return Err(io::Error::other("the worker spawner has stopped"));
        }
        rx.await
            .map_err(|_| io::Error::other("the worker spawner has stopped"))?
    }
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command, isolation: Prepared) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: runs in the forked child before exec; it calls only
    // async-signal-safe functions (prctl, getppid, _exit, and the raw system
    // calls of `Prepared::apply`) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // Isolation first: a change of credentials (the uid drop)
            // clears the parent-death signal.
            isolation.apply()?;
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The host may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command, _isolation: Prepared) {}

/// Kills `child` and waits for it, so it does not stay a zombie. The wait
/// is done by one reaper thread, not a task of the caller's runtime: a
/// runtime that shuts down (an embedder's, a test's) drops its tasks, and
/// the child would stay a zombie.
pub fn reap(mut child: Child) {
    let _ = child.start_kill();
    if let Some(pid) = child.id() {
        forget_pid(pid);
    }
    static REAPER: std::sync::OnceLock<Mutex<std::sync::mpsc::Sender<Child>>> =
        std::sync::OnceLock::new();
    let tx = REAPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Child>();
        let _ = std::thread::Builder::new()
            .name("runtime-reaper".into())
            .spawn(move || reaper(rx));
        Mutex::new(tx)
    });
    if let Ok(tx) = tx.lock() {
        let _ = tx.send(child);
    }
}

fn reaper(rx: std::sync::mpsc::Receiver<Child>) {
    let mut dying: Vec<Child> = Vec::new();
    loop {
        // Block while there is nothing to wait for; poll every 5 ms while
        // killed children may still be exiting.
        let next = if dying.is_empty() {
            rx.recv().ok()
        } else {
            rx.recv_timeout(std::time::Duration::from_millis(5)).ok()
        };
        if let Some(c) = next {
            dying.push(c);
        }
        // try_wait is a plain non-blocking waitpid: no runtime needed.
        dying.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
    }
}

// --------------------------------------------------- cleanup at host exit

struct Live {
    pids: Vec<u32>,
    dirs: Vec<PathBuf>,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    pids: Vec::new(),
    dirs: Vec::new(),
});

pub fn remember_pid(pid: u32) {
    if let Ok(mut l) = LIVE.lock() {
        l.pids.push(pid);
    }
}

pub fn forget_pid(pid: u32) {
    if let Ok(mut l) = LIVE.lock() {
        l.pids.retain(|p| *p != pid);
    }
}

/// Registers a pool folder for removal at exit (and the hook, once).
pub fn remember_dir(dir: &Path) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn` with libc.
        #[cfg(unix)]
        unsafe {
            libc::atexit(at_exit);
        }
    });
    if let Ok(mut l) = LIVE.lock() {
        l.dirs.push(dir.to_path_buf());
    }
}

pub fn forget_dir(dir: &Path) {
    if let Ok(mut l) = LIVE.lock() {
        l.dirs.retain(|d| d != dir);
    }
}

#[cfg(unix)]
extern "C" fn at_exit() {
    // try_lock: a thread may have died holding it; never block an exit.
    let Ok(l) = LIVE.try_lock() else { return };
    for pid in &l.pids {
        // SAFETY: signals a child of ours by pid.
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGKILL);
        }
    }
    for pid in &l.pids {
        // Bounded wait (≤ 200 ms each) so a dying worker stops writing to
        // its folder before the folder is removed.
        for _ in 0..200 {
            let mut status = 0;
            // SAFETY: non-blocking wait for our own child.
            let r = unsafe { libc::waitpid(*pid as libc::pid_t, &mut status, libc::WNOHANG) };
            if r != 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    for d in &l.dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Pool folders are named `<prefix><host pid>-<random>`; removes those whose
/// host no longer runs (it was killed before its exit hook could run).
pub fn sweep_stale_dirs(parent: &Path, prefix: &str) {
    // Without /proc nothing tells a dead host from a live one: keep all.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
