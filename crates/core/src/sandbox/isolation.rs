//! Kernel isolation of local workers (Linux; other systems get
//! `isolation_none.rs`): what the kernel enforces on a worker
//! process whatever its JavaScript does (it can reach its real `process`).
//!
//! Everything is prepared in the host — the Landlock ruleset (an fd), the
//! seccomp program (BPF), C strings for the mount and the uid maps — and the
//! forked child only makes async-signal-safe system calls between fork and
//! exec ([`Prepared::apply`]). Each layer is detected when the pool starts
//! ([`Isolation::probe`]); `RUNTIME_ISOLATION=strict` refuses to run
//! functions without Landlock and seccomp, `auto` uses what is available.
//!
//! | layer | stops |
//! |---|---|
//! | Landlock (fs) | reading anything but node, its libraries and the worker script; writing outside the worker's temp folder |
//! | Landlock (net, ABI ≥ 4) | TCP bind and connect |
//! | Landlock (scope, ABI ≥ 6) | signals to the host or sibling workers (`process.kill`, `_debugProcess`), abstract unix sockets |
//! | seccomp deny-list | sockets, `kill`, ptrace, process_vm_*, mount, namespaces, bpf, perf, io_uring, keyrings, modules, kexec, … → EPERM |
//! | namespaces (user if unprivileged, mount, net, ipc) | an empty network (no loopback), a private tmpfs with a size quota |
//! | rlimits | `RLIMIT_DATA` (heap + Buffers), `RLIMIT_FSIZE`, `RLIMIT_NOFILE`, no core dumps |
//! | uid/gid | a root host runs workers as `RUNTIME_WORKER_UID` (65534) |
//! | niceness | workers run `RUNTIME_WORKER_NICE` (10) nicer than the host, which cannot be undone without `CAP_SYS_NICE` |

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::config::{IsolationConfig, IsolationLevel};
use crate::error::{Error, Result};

pub use super::layers::Layers;

/// The type `setrlimit` takes its resource as (it differs by libc).
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// The pool's isolation: detected layers plus what every worker shares.
pub struct Isolation {
    pub layers: Layers,
    config: IsolationConfig,
    seccomp: Option<linux::Programs>,
    ns_flags: i32,
    /// Unprivileged: the child maps its own uid/gid in a new user namespace.
    map_self: bool,
    read_paths: Vec<PathBuf>,
}

/// One worker's prepared isolation, applied in the forked child.
pub struct Prepared {
    nice: i32,
    landlock: Option<OwnedFd>,
    /// Landlock rights on the worker's folder, granted again in the child
    /// once its tmpfs is mounted (rules name inodes: the tmpfs root is a new
    /// one).
    folder_access: u64,
    ns_flags: i32,
    uid_map: Option<(CString, CString)>,
    tmpfs: Option<(CString, CString)>,
    drop_to: Option<(u32, u32)>,
    rlimits: Option<[(Resource, u64); 4]>,
    seccomp: Option<linux::Programs>,
}

impl Isolation {
    /// Detects the layers this machine allows and checks them against the
    /// configured level. `node` and `script` are what a worker must read.
    pub fn probe(config: &IsolationConfig, node: &Path, script: &Path) -> Result<Self> {
        let disabled = |layer: &str| config.disables(layer);
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let landlock_abi = if disabled("landlock") {
            0
        } else {
            linux::landlock_abi()
        };
        let seccomp = if disabled("seccomp") {
            None
        } else {
            linux::Programs::build().filter(|p| p.probe())
        };
        let (ns_flags, map_self, namespaces) = if disabled("namespaces") {
            (0, false, Vec::new())
        } else {
            linux::probe_namespaces(root)
        };
        let rlimits = !disabled("rlimits");
        let uid = (root && config.worker_uid != 0).then_some(config.worker_uid);
        let layers = Layers {
            landlock_abi,
            seccomp: seccomp.is_some(),
            namespaces,
            rlimits,
            uid,
            node_permission: !disabled("permission"),
            nice: config.worker_nice,
            level: config.level,
        };
        if config.level == IsolationLevel::Strict {
            let mut missing = Vec::new();
            if landlock_abi == 0 {
                missing.push("Landlock");
            }
            if !layers.seccomp {
                missing.push("seccomp");
            }
            if !missing.is_empty() {
                return Err(Error::IsolationUnavailable(format!(
                    "RUNTIME_ISOLATION=strict and {} cannot be applied on this machine{}; \
                     use RUNTIME_ISOLATION=auto to run with the layers available ({})",
                    missing.join(" and "),
                    if config.disable.is_empty() {
                        String::new()
                    } else {
                        format!(" (RUNTIME_ISOLATION_DISABLE={})", config.disable.join(","))
                    },
                    layers.describe()
                )));
            }
        }
        let mut read_paths = vec![node.to_path_buf(), script.to_path_buf()];
        if let Ok(real) = std::fs::canonicalize(node) {
            read_paths.push(real);
        }
        Ok(Isolation {
            layers,
            config: config.clone(),
            seccomp,
            ns_flags,
            map_self,
            read_paths,
        })
    }

    /// Prepares one worker: its Landlock ruleset (with its own temp folder),
    /// limits and mount. `dir` must exist.
    pub fn prepare(&self, dir: &Path, memory_mb: u64) -> Result<Prepared> {
        let cstr = |s: String| {
            CString::new(s).map_err(|_| Error::Worker("a worker path contains a NUL byte".into()))
        };
        let (uid, gid) = match self.layers.uid {
            Some(u) => (u, self.config.worker_gid),
            // SAFETY: getuid/getgid have no preconditions.
            None => unsafe { (libc::getuid(), libc::getgid()) },
        };
        if self.layers.uid.is_some() {
            chown(dir, uid, gid)?;
        }
        let (landlock, folder_access) = if self.layers.landlock_abi > 0 {
            let (fd, access) = linux::landlock_ruleset(&self.read_paths, dir)?;
            (Some(fd), access)
        } else {
            (None, 0)
        };
        let tmpfs = if self.ns_flags & libc::CLONE_NEWNS != 0 {
            Some((
                cstr(dir.display().to_string())?,
                cstr(format!(
                    "size={}m,mode=0700,uid={uid},gid={gid}",
                    self.config.tmp_mb
                ))?,
            ))
        } else {
            None
        };
        let uid_map = self.map_self.then(|| {
            (
                CString::new(format!("{uid} {uid} 1")).unwrap_or_default(),
                CString::new(format!("{gid} {gid} 1")).unwrap_or_default(),
            )
        });
        const MIB: u64 = 1024 * 1024;
        let rlimits = self.layers.rlimits.then_some([
            // The JS heap is capped by --max-old-space-size; DATA also counts
            // Buffers and wasm memory, with room for node's own baseline.
            (libc::RLIMIT_DATA, (memory_mb * 2 + 512).saturating_mul(MIB)),
            (libc::RLIMIT_FSIZE, self.config.tmp_mb * MIB),
            (libc::RLIMIT_NOFILE, 1024),
            (libc::RLIMIT_CORE, 0),
        ]);
        Ok(Prepared {
            nice: self.config.worker_nice,
            landlock,
            folder_access,
            ns_flags: self.ns_flags,
            uid_map,
            tmpfs,
            drop_to: self.layers.uid.map(|u| (u, self.config.worker_gid)),
            rlimits,
            seccomp: self.seccomp.clone(),
        })
    }
}

fn chown(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .map_err(|e| Error::Worker(format!("cannot hand {} to uid {uid}: {e}", dir.display())))
}

impl Prepared {
    /// Runs in the forked child before exec. Only async-signal-safe calls:
    /// no allocation, no locks. Order matters: limits, namespaces (and the
    /// tmpfs, which needs mount rights), dropping the uid, then Landlock and
    /// seccomp, which both need `no_new_privs`. With a PID namespace the
    /// process forks once more (see `become_init`); `Ok(true)` then means
    /// this is the worker, pid 1 of its namespace, whose parent it cannot
    /// see.
    pub fn apply(&self) -> io::Result<bool> {
        let mut nested = false;
        if self.nice > 0 {
            // Relative to the host's own niceness. Best effort: an increase
            // only fails past 19, where the worker is as nice as it gets.
            // SAFETY: nice is a plain system call.
            unsafe { libc::nice(self.nice) };
        }
        if let Some(limits) = &self.rlimits {
            for (resource, value) in limits {
                let lim = libc::rlimit {
                    rlim_cur: *value,
                    rlim_max: *value,
                };
                // SAFETY: setrlimit with a valid pointer to a local struct.
                check(unsafe { libc::setrlimit(*resource, &lim) })?;
            }
        }
        if self.ns_flags != 0 {
            // SAFETY: unshare in a single-threaded child.
            check(unsafe { libc::unshare(self.ns_flags) })?;
            if let Some((uid_map, gid_map)) = &self.uid_map {
                write_proc(c"/proc/self/setgroups", c"deny")?;
                write_proc(c"/proc/self/uid_map", uid_map)?;
                write_proc(c"/proc/self/gid_map", gid_map)?;
            }
            if self.ns_flags & libc::CLONE_NEWPID != 0 {
                nested = become_init()?;
            }
            if self.ns_flags & libc::CLONE_NEWNS != 0 {
                // A mount namespace made by root copies shared propagation
                // (systemd makes / shared): keep this worker's mounts its own.
                // SAFETY: mount with constant arguments.
                check(unsafe {
                    libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    )
                })?;
            }
            if let Some((dir, opts)) = &self.tmpfs {
                // SAFETY: mount with NUL-terminated strings prepared before fork.
                check(unsafe {
                    libc::mount(
                        c"tmpfs".as_ptr(),
                        dir.as_ptr(),
                        c"tmpfs".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        opts.as_ptr().cast(),
                    )
                })?;
                if let Some(ruleset) = &self.landlock {
                    allow_folder(ruleset, dir, self.folder_access)?;
                }
            }
        }
        if let Some((uid, gid)) = self.drop_to {
            // SAFETY: plain credential calls; setgroups with an empty list.
            unsafe {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
            }
        }
        // SAFETY: prctl with constant arguments.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
        if let Some(fd) = &self.landlock {
            // SAFETY: the ruleset fd was created by the parent and is open.
            check(unsafe {
                libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) as i32
            })?;
        }
        if let Some(p) = &self.seccomp {
            p.apply()?;
        }
        Ok(nested)
    }
}

/// Waits for child `pid` and returns its wait status; `None` if the wait
/// fails. A signal (an embedder's SIGCHLD handler, say) can interrupt the
/// wait: it is retried, or the child would stay a zombie. Async-signal-safe.
fn wait_status(pid: libc::pid_t) -> Option<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on a child of this process, with a local status.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(status);
        }
        // SAFETY: errno of this thread, just set by waitpid.
        if r != -1 || unsafe { *libc::__errno_location() } != libc::EINTR {
            return None;
        }
    }
}

/// Whether a wait status is a normal exit with code 0.
fn exited_ok(status: Option<libc::c_int>) -> bool {
    status.is_some_and(|s| libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0)
}

/// In a child that has just unshared a PID namespace: forks the worker,
/// which becomes pid 1 of that namespace (it cannot see the host or any
/// other process), and stays behind as its keeper. The keeper holds no
/// descriptor (the worker's pipes reach EOF when the worker ends, and none
/// of the host's stay open here), dies with the host, and exits as the
/// worker did, so the host sees the worker's status as its own child's.
/// Async-signal-safe: raw system calls only. Runs before seccomp, which
/// refuses new processes.
fn become_init() -> io::Result<bool> {
    // SAFETY: getppid has no preconditions.
    let host = unsafe { libc::getppid() };
    // SAFETY: fork in a single-threaded child; both sides use raw calls only.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // The worker: it dies with its keeper (set again after the uid
        // drop, which clears it).
        // SAFETY: prctl with constant arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
        return Ok(true);
    }
    // SAFETY: the keeper never returns to the caller: raw calls, then _exit.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != host {
            // The host died before the prctl.
            libc::kill(pid, libc::SIGKILL);
            libc::_exit(1);
        }
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            // Before Linux 5.9. Above all the write end of the error pipe
            // std's spawn reads until EOF must go, or the spawn would wait
            // for the worker's end.
            for fd in 0..65536 {
                libc::close(fd);
            }
        }
        let Some(status) = wait_status(pid) else {
            libc::_exit(70);
        };
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status));
    }
}

/// `struct landlock_path_beneath_attr` (packed, as the kernel declares it).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// Adds a path-beneath rule for `dir` to `ruleset`, in the child.
fn allow_folder(ruleset: &OwnedFd, dir: &std::ffi::CStr, access: u64) -> io::Result<()> {
    const LANDLOCK_RULE_PATH_BENEATH: i32 = 1;
    // SAFETY: open/syscall/close with a NUL-terminated path and a struct on
    // the stack; async-signal-safe.
    unsafe {
        let fd = libc::open(dir.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let attr = PathBeneathAttr {
            allowed_access: access,
            parent_fd: fd,
        };
        let r = libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        );
        libc::close(fd);
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn check(r: i32) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn write_proc(path: &std::ffi::CStr, text: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: open/write/close with NUL-terminated strings; async-signal-safe.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let bytes = text.to_bytes();
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

mod linux {
    use std::collections::BTreeMap;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use landlock::{
        path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset,
        RulesetAttr, RulesetCreatedAttr, Scope, ABI,
    };
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use crate::error::{Error, Result};

    /// The Landlock ABI of the running kernel (0: unsupported or disabled).
    pub fn landlock_abi() -> i32 {
        const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
        // SAFETY: the documented version query: NULL attributes, size 0.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<u8>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        if v < 0 {
            0
        } else {
            v as i32
        }
    }

    fn abi_of(v: i32) -> ABI {
        match v {
            1 => ABI::V1,
            2 => ABI::V2,
            3 => ABI::V3,
            4 => ABI::V4,
            5 => ABI::V5,
            _ => ABI::V6,
        }
    }

    /// Read (and execute) of node, its libraries and the worker script;
    /// read/write of the worker's own folder; no TCP; signals and abstract
    /// sockets scoped to the worker.
    pub fn landlock_ruleset(read: &[PathBuf], dir: &Path) -> Result<(OwnedFd, u64)> {
        let abi = abi_of(landlock_abi());
        let err = |e: landlock::RulesetError| Error::Worker(format!("Landlock: {e}"));
        let read_exec = AccessFs::from_read(abi);
        let libs = [
            "/lib",
            "/lib64",
            "/usr/lib",
            "/usr/lib64",
            "/usr/local/lib",
            "/etc/ld.so.cache",
            // node reads its OpenSSL configuration at start.
            "/etc/ssl",
            "/usr/lib/ssl",
            "/etc/localtime",
            "/usr/share/zoneinfo",
        ];
        let devices = ["/dev/null", "/dev/urandom", "/dev/random"];
        let ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(abi))
            .map_err(err)?
            .handle_access(AccessNet::from_all(abi))
            .map_err(err)?
            .scope(Scope::from_all(abi))
            .map_err(err)?
            .create()
            .map_err(err)?
            .add_rules(path_beneath_rules(read, read_exec))
            .map_err(err)?
            .add_rules(path_beneath_rules(libs, read_exec))
            .map_err(err)?
            .add_rules(path_beneath_rules(
                devices,
                AccessFs::ReadFile | AccessFs::WriteFile,
            ))
            .map_err(err)?
            .add_rules(path_beneath_rules([dir], AccessFs::from_all(abi)))
            .map_err(err)?;
        let fd: Option<OwnedFd> = ruleset.into();
        let fd =
            fd.ok_or_else(|| Error::Worker("Landlock is not supported by this kernel".into()))?;
        Ok((fd, AccessFs::from_all(abi).bits()))
    }

    /// Two stacked seccomp filters: the deny-list (EPERM), and clone3 →
    /// ENOSYS so glibc falls back to clone, whose flags the first can see.
    #[derive(Clone)]
    pub struct Programs {
        deny: Arc<BpfProgram>,
        clone3: Arc<BpfProgram>,
    }

    impl Programs {
        pub fn build() -> Option<Self> {
            let arch = TargetArch::try_from(std::env::consts::ARCH).ok()?;
            let deny = SeccompFilter::new(
                deny_rules()?,
                SeccompAction::Allow,
                SeccompAction::Errno(libc::EPERM as u32),
                arch,
            )
            .ok()?;
            let mut c3 = BTreeMap::new();
            c3.insert(libc::SYS_clone3, vec![]);
            let clone3 = SeccompFilter::new(
                c3,
                SeccompAction::Allow,
                SeccompAction::Errno(libc::ENOSYS as u32),
                arch,
            )
            .ok()?;
            Some(Programs {
                deny: Arc::new(deny.try_into().ok()?),
                clone3: Arc::new(clone3.try_into().ok()?),
            })
        }

        pub fn apply(&self) -> std::io::Result<()> {
            seccompiler::apply_filter(&self.deny).map_err(std::io::Error::other)?;
            seccompiler::apply_filter(&self.clone3).map_err(std::io::Error::other)
        }

        /// Applies the filters in a forked child: does the kernel take them?
        pub fn probe(&self) -> bool {
            super::linux::in_child(|| {
                // SAFETY: prctl with constant arguments, in the child.
                if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                    return false;
                }
                self.apply().is_ok()
            })
        }
    }

    fn deny_rules() -> Option<BTreeMap<i64, Vec<SeccompRule>>> {
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for nr in [
            // Other processes: debugging, memory, signals.
            libc::SYS_ptrace,
            libc::SYS_process_vm_readv,
            libc::SYS_process_vm_writev,
            libc::SYS_kill,
            libc::SYS_rt_sigqueueinfo,
            libc::SYS_pidfd_open,
            libc::SYS_pidfd_getfd,
            libc::SYS_pidfd_send_signal,
            libc::SYS_kcmp,
            // Sockets: a function reaches the network through the host only.
            libc::SYS_socket,
            libc::SYS_socketpair,
            // Mounts and namespaces.
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_pivot_root,
            libc::SYS_chroot,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_open_tree,
            libc::SYS_move_mount,
            libc::SYS_fsopen,
            libc::SYS_fsmount,
            libc::SYS_open_by_handle_at,
            libc::SYS_name_to_handle_at,
            // Kernel attack surface.
            libc::SYS_bpf,
            libc::SYS_perf_event_open,
            libc::SYS_userfaultfd,
            libc::SYS_keyctl,
            libc::SYS_add_key,
            libc::SYS_request_key,
            libc::SYS_kexec_load,
            libc::SYS_kexec_file_load,
            libc::SYS_init_module,
            libc::SYS_finit_module,
            libc::SYS_delete_module,
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
            libc::SYS_personality,
            libc::SYS_fanotify_init,
            libc::SYS_quotactl,
            libc::SYS_acct,
            libc::SYS_swapon,
            libc::SYS_swapoff,
            libc::SYS_reboot,
            libc::SYS_sethostname,
            libc::SYS_setdomainname,
            libc::SYS_syslog,
            libc::SYS_vhangup,
        ] {
            rules.insert(nr, vec![]);
        }
        // No new processes: a worker is one process, whatever the code in
        // it does (threads, which node needs, are clones with CLONE_THREAD;
        // clone3 falls back to clone, see `clone3` above).
        #[cfg(target_arch = "x86_64")]
        for nr in [libc::SYS_fork, libc::SYS_vfork] {
            rules.insert(nr, vec![]);
        }
        // clone without CLONE_THREAD (a process), or with any namespace flag.
        let thread = libc::CLONE_THREAD as u64;
        let process = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(thread),
            0,
        )
        .ok()?;
        let ns = [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWCGROUP,
        ];
        let mut clone_rules = vec![SeccompRule::new(vec![process]).ok()?];
        for flag in ns {
            let f = flag as u64;
            let cond =
                SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(f), f)
                    .ok()?;
            clone_rules.push(SeccompRule::new(vec![cond]).ok()?);
        }
        rules.insert(libc::SYS_clone, clone_rules);
        Some(rules)
    }

    /// Runs `f` in a forked child and reports whether it returned true. The
    /// child makes only async-signal-safe calls and `_exit`s.
    pub fn in_child(f: impl Fn() -> bool) -> bool {
        // SAFETY: fork; the child runs `f` (raw system calls only) and _exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return false;
        }
        if pid == 0 {
            let ok = f();
            // SAFETY: leave the child without running atexit hooks.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        super::exited_ok(super::wait_status(pid))
    }

    /// Which namespaces a worker can get: (unshare flags, whether the
    /// child maps its own uid in a new user namespace, their names). The
    /// probe also mounts a tmpfs, as a worker's start does.
    pub fn probe_namespaces(root: bool) -> (i32, bool, Vec<&'static str>) {
        let base = libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC;
        let names = |user: bool| {
            let mut n = Vec::new();
            if user {
                n.push("user");
            }
            n.extend(["mount", "net", "ipc"]);
            n
        };
        let scratch = std::ffi::CString::new(std::env::temp_dir().display().to_string())
            .unwrap_or_else(|_| c"/tmp".into());
        // SAFETY: unshare and mount in the forked, single-threaded child.
        let works = |flags: i32| {
            in_child(|| unsafe {
                libc::unshare(flags) == 0
                    && libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) == 0
                    && libc::mount(
                        c"tmpfs".as_ptr(),
                        scratch.as_ptr(),
                        c"tmpfs".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        c"size=1m".as_ptr().cast(),
                    ) == 0
            })
        };
        let (flags, map_self, mut names) = if root && works(base) {
            (base, false, names(false))
        } else if works(base | libc::CLONE_NEWUSER) {
            (base | libc::CLONE_NEWUSER, true, names(true))
        } else {
            return (0, false, Vec::new());
        };
        // A PID namespace, where the kernel allows one: the next child is
        // its pid 1 (see `become_init`).
        // SAFETY: unshare and fork in the forked, single-threaded child;
        // the grandchild only reads its pid and _exits.
        let pid_ns = in_child(|| unsafe {
            if libc::unshare(flags | libc::CLONE_NEWPID) != 0 {
                return false;
            }
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(if libc::getpid() == 1 { 0 } else { 1 });
            }
            pid > 0 && super::exited_ok(super::wait_status(pid))
        });
        if !pid_ns {
            return (flags, map_self, names);
        }
        names.push("pid");
        (flags | libc::CLONE_NEWPID, map_self, names)
    }
}
