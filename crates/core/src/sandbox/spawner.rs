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
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::Duration;

use super::isolation::Prepared;
use tokio::sync::oneshot;

type Request = (Command, oneshot::Sender<io::Result<Process>>);

/// How often a dying process is polled for its exit.
const EXIT_POLL: Duration = Duration::from_millis(5);

/// A worker process: a std `Child`, reaped whenever it is dropped (by its
/// worker, by a start-up that failed, or inside a reply channel whose
/// receiver went away). Not a tokio `Child`: tokio spawns through the
/// caller's runtime, and one that is shutting down (a test's, an
/// embedder's) fails the spawn *after* exec and drops the child unreaped;
/// its dropped children go to an orphan queue that only a live runtime
/// drives. Both left zombies.
pub struct Process(Option<Child>);

/// The async ends of a worker's stdin, stdout and stderr.
pub type Stdio = (
    tokio::process::ChildStdin,
    tokio::process::ChildStdout,
    tokio::process::ChildStderr,
);

impl Process {
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(|c| c.id())
    }

    /// The child's pipes, registered with the current runtime (once).
    pub fn take_stdio(&mut self) -> io::Result<Stdio> {
        let gone = || io::Error::other("the pipes were taken");
        let c = self.0.as_mut().ok_or_else(gone)?;
        let (i, o, e) = (c.stdin.take(), c.stdout.take(), c.stderr.take());
        let (Some(i), Some(o), Some(e)) = (i, o, e) else {
            return Err(gone());
        };
        Ok((
            tokio::process::ChildStdin::from_std(i)?,
            tokio::process::ChildStdout::from_std(o)?,
            tokio::process::ChildStderr::from_std(e)?,
        ))
    }

    pub fn start_kill(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
        }
    }

    /// Alive: not yet exited.
    pub fn is_running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits for the exit (polling: workers end rarely, and this needs no
    /// SIGCHLD handler in the embedder's process).
    pub async fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        loop {
            let c = self
                .0
                .as_mut()
                .ok_or_else(|| io::Error::other("the process was handed to the reaper"))?;
            if let Some(status) = c.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }

    /// Kills the process and waits for it. Cancelled half-way, the drop
    /// still reaps it.
    pub async fn end(&mut self) {
        if let Some(pid) = self.id() {
            forget_pid(pid);
        }
        self.start_kill();
        let _ = self.wait().await;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            reap(c);
        }
    }
}

/// The thread that forks workers.
pub struct Spawner {
    tx: Mutex<std::sync::mpsc::Sender<Request>>,
}

impl Spawner {
    pub fn start() -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("runtime-spawner".into())
            .spawn(move || {
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let child = cmd.spawn().map(|c| {
                        remember_pid(c.id());
                        Process(Some(c))
                    });
                    // Unsent (nobody waits any more), the Process drops
                    // and is reaped.
                    let _ = reply.send(child);
                }
            })?;
        Ok(Spawner { tx: Mutex::new(tx) })
    }

    /// Starts `cmd` with `isolation` applied between fork and exec.
    pub async fn spawn(&self, mut cmd: Command, isolation: Prepared) -> io::Result<Process> {
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
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: runs in the forked child before exec; it calls only
    // async-signal-safe functions (prctl, getppid, _exit, and the raw system
    // calls of `Prepared::apply`) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // Isolation first: a change of credentials (the uid drop)
            // clears the parent-death signal.
            let nested = isolation.apply()?;
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The host may have died between fork and prctl. (In a PID
            // namespace the parent is the worker's keeper, which watches
            // the host itself, and getppid() is 0.)
            if !nested && libc::getppid() != parent {
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
fn reap(mut child: Child) {
    let _ = child.kill();
    forget_pid(child.id());
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
        // Block while there is nothing to wait for; poll while killed
        // children may still be exiting.
        let next = if dying.is_empty() {
            rx.recv().ok()
        } else {
            rx.recv_timeout(EXIT_POLL).ok()
        };
        if let Some(c) = next {
            dying.push(c);
        }
        // try_wait is a plain non-blocking waitpid.
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
