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
                let _rt = rt.enter();
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let _ = reply.send(cmd.spawn());
                }
            })?;
        Ok(Spawner { tx: Mutex::new(tx) })
    }

    pub async fn spawn(&self, mut cmd: Command) -> io::Result<Child> {
        die_with_parent(&mut cmd);
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
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: runs in the forked child before exec; it calls only
    // async-signal-safe functions (prctl, getppid, _exit) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
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
fn die_with_parent(_cmd: &mut Command) {}

/// Kills `child` and waits for it, so it does not stay a zombie.
pub fn reap(rt: &tokio::runtime::Handle, mut child: Child) {
    let _ = child.start_kill();
    if let Some(pid) = child.id() {
        forget_pid(pid);
    }
    rt.spawn(async move {
        let _ = child.wait().await;
    });
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
