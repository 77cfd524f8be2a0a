//! Giving up root after the sockets are bound, when started as root outside systemd.

use tracing::info;

/// Switches to `user` after the sockets are bound, when started as root and not by systemd
/// (which runs us as our own user with CAP_NET_BIND_SERVICE instead).
pub fn drop_privileges(user: &str) -> Result<(), String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 || std::env::var_os("NOTIFY_SOCKET").is_some() {
        return Ok(());
    }
    let cname = std::ffi::CString::new(user).map_err(|_| format!("bad user name {user:?}"))?;
    // SAFETY: getpwnam takes a NUL-terminated string and returns a pointer to static storage or
    // null; we read the two ids before any other call that could overwrite it.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(cname.as_ptr());
        if pw.is_null() {
            return Err(format!("no such user {user:?}"));
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    // SAFETY: plain system calls; order matters: groups and gid before giving up root with setuid.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
            return Err(format!("cannot switch to user {user:?}: {}", std::io::Error::last_os_error()));
        }
    }
    info!(user, uid, gid, "dropped root privileges");
    Ok(())
}
