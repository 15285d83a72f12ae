//! A TEST FIXTURE, not part of the addon. The Dify Sandbox stand-in
//! (`__test__/fixtures/dify-runner.cjs`) loads this library into its node
//! runner with `process.dlopen` after node has started, as the real runner
//! loads its own seccomp library: the load-time constructor installs the
//! real server's node allow-list (langgenius/dify-sandbox
//! `internal/static/nodejs_syscall/syscalls_amd64.go`, listed in
//! `shared/dify-sandbox/README.md`). Any other system call kills the process
//! with SIGSYS; `clone`/`clone3` fail with EPERM, as there.
//!
//! `DIFY_STANDIN_SECCOMP` selects the list: `net` (with `enable_network`) or
//! `nonet`; unset, the library does nothing. x86_64 only (the list is the
//! amd64 one); elsewhere it does nothing and the runner says so.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod filter {
    use libc::*;

    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const RET_KILL_PROCESS: u32 = 0x8000_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    const RET_ALLOW: u32 = 0x7fff_0000;

    const ALLOWED: &[c_long] = &[
        SYS_open,
        SYS_write,
        SYS_close,
        SYS_read,
        SYS_openat,
        SYS_newfstatat,
        SYS_ioctl,
        SYS_lseek,
        SYS_fstat,
        SYS_mprotect,
        SYS_mmap,
        SYS_munmap,
        SYS_mremap,
        SYS_brk,
        SYS_rt_sigaction,
        SYS_rt_sigprocmask,
        SYS_madvise,
        SYS_getpid,
        SYS_getuid,
        SYS_fcntl,
        SYS_sigaltstack,
        SYS_rt_sigreturn,
        SYS_futex,
        SYS_exit_group,
        SYS_epoll_ctl,
        SYS_epoll_pwait,
        SYS_sched_yield,
        SYS_exit,
        SYS_sched_getaffinity,
        SYS_set_robust_list,
        SYS_rseq,
        SYS_setgroups,
        SYS_setgid,
        SYS_setuid,
        SYS_gettid,
        SYS_clock_gettime,
        SYS_gettimeofday,
        SYS_nanosleep,
        SYS_time,
        SYS_tgkill,
        SYS_readlink,
        SYS_dup3,
        SYS_eventfd2,
    ];
    const NETWORK: &[c_long] = &[
        SYS_socket,
        SYS_connect,
        SYS_bind,
        SYS_listen,
        SYS_accept,
        SYS_sendto,
        SYS_recvfrom,
        SYS_getsockname,
        SYS_recvmsg,
        SYS_getpeername,
        SYS_setsockopt,
        SYS_ppoll,
        SYS_uname,
        SYS_sendmsg,
        SYS_getsockopt,
        SYS_fcntl,
        SYS_fstatfs,
    ];
    const EPERM_INSTEAD: &[c_long] = &[SYS_clone, SYS_clone3];

    fn stmt(code: u16, k: u32) -> sock_filter {
        sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }
    fn jeq(k: u32, jt: u8, jf: u8) -> sock_filter {
        sock_filter {
            code: (BPF_JMP | BPF_JEQ | BPF_K) as u16,
            jt,
            jf,
            k,
        }
    }

    pub fn install(network: bool) -> Result<(), String> {
        let ld = (BPF_LD | BPF_W | BPF_ABS) as u16;
        let ret = (BPF_RET | BPF_K) as u16;
        let mut prog = vec![
            stmt(ld, 4), // seccomp_data.arch
            jeq(AUDIT_ARCH_X86_64, 1, 0),
            stmt(ret, RET_KILL_PROCESS),
            stmt(ld, 0), // seccomp_data.nr
        ];
        let allowed = ALLOWED.iter().chain(if network { NETWORK } else { &[] });
        for nr in allowed {
            prog.push(jeq(*nr as u32, 0, 1));
            prog.push(stmt(ret, RET_ALLOW));
        }
        for nr in EPERM_INSTEAD {
            prog.push(jeq(*nr as u32, 0, 1));
            prog.push(stmt(ret, RET_ERRNO | EPERM as u32));
        }
        prog.push(stmt(ret, RET_KILL_PROCESS));
        let fprog = sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_mut_ptr(),
        };
        // SAFETY: prctl with valid arguments; `fprog` points into `prog`, alive across the call.
        unsafe {
            if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(format!(
                    "PR_SET_NO_NEW_PRIVS: {}",
                    std::io::Error::last_os_error()
                ));
            }
            if prctl(
                PR_SET_SECCOMP,
                SECCOMP_MODE_FILTER,
                &fprog as *const sock_fprog,
            ) != 0
            {
                return Err(format!(
                    "PR_SET_SECCOMP: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(())
    }
}

extern "C" fn on_load() {
    let Some(mode) = std::env::var_os("DIFY_STANDIN_SECCOMP") else {
        return;
    };
    // The runner dies with the stand-in: a test that ends (its stand-in
    // killed) while a function spins left the runner spinning for good,
    // eating the CPU of every later test. The real server's runners are not
    // ours to outlive a test run either.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl and getppid with valid arguments; _exit ends the process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() == 1 {
            libc::_exit(1);
        }
    }
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if let Err(e) = filter::install(mode == "net") {
        eprintln!("dify-standin-seccomp: cannot install the filter: {e}");
        std::process::abort();
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    let _ = mode;
}

#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;
