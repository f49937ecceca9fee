"""Linux namespaces for one exercise inside the grading sandbox (Linux only, through libc by ctypes).

``enter_own_namespaces`` turns the calling, single-threaded process into a waiter whose only child is
PID 1 of a new PID namespace, in user, mount, IPC, network and UTS namespaces of its own, with a fresh /tmp
and /dev/shm, no capabilities and no way to gain any. Nothing one exercise leaves (a file, a System V segment,
a socket) is there for the next one, which may be another student's: a worker serves many submissions. From there the exercise's processes cannot signal anything
outside their PID namespace (the worker that forked them, earlier exercises: those have no PID in it), and
when PID 1 exits the kernel kills every process left in it. /proc stays the sandbox's (the kernel refuses a
new one under bubblewrap's read-only covers), so they can list the worker's PID, but the worker is not
dumpable: its memory and descriptors are closed to them.
"""
from __future__ import annotations

import ctypes
import os
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV = 2, 4
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def _mount(source: str, target: str, fstype: str, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags),
                       data.encode() if data else None), f"mount {fstype} on {target}")


def _drop_capabilities() -> None:
    """No capabilities left (a new user namespace grants all of them within it) and none to gain by exec."""
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def _map_own_ids() -> None:
    """Keep this uid and gid inside the new user namespace (without a mapping no file could be created)."""
    uid, gid = os.getuid(), os.getgid()
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def enter_own_namespaces(tmpfs_bytes: int) -> None:
    """Continue as PID 1 of new user, PID and mount namespaces; the caller becomes a waiter that exits with
    its status (and never returns). Must run in a process with one thread (a forked child)."""
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS),
           "unshare")
    _map_own_ids()
    pid = os.fork()
    if pid:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # the worker gone: so is this exercise
        os.closerange(0, os.sysconf("SC_OPEN_MAX"))   # the result pipe closes when the exercise's processes end
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    for folder in ("/tmp", "/dev/shm"):
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmpfs_bytes},mode=1777")
    os.chdir("/tmp")
    _drop_capabilities()
    prctl(PR_SET_DUMPABLE, 1)   # its own /proc entries readable again (the worker made itself undumpable)
