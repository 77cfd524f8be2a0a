//! Batched UDP on Linux: `recvmmsg(2)` takes every datagram waiting on a socket (up to
//! [`BATCH`]) in one system call, and `sendmmsg(2)` sends the replies made from the cache in
//! one more. Under load a receive loop then makes two system calls per batch instead of two per
//! query, which is most of what a cache hit costs (the kernel's share, ../shared/notes/perf.md).
//! With no load the loop waits in the kernel, and a batch is one datagram.
//!
//! The socket is a blocking one with a receive timeout ([`IDLE_WAKE`]), read only by these
//! loops, on threads of their own: an idle loop waits in the kernel ([`RecvBatch::recv`]) and
//! the kernel wakes one waiting thread per datagram, with no `poll(2)` or readiness bookkeeping
//! in between; a loop whose own cache misses are under way takes what is waiting without
//! blocking ([`RecvBatch::recv_now`]). Replies to misses go out with [`send_now`], which never
//! blocks.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::time::Duration;

/// Datagrams taken per system call: enough to empty the socket under a benchmark's hundreds of
/// queries in flight, little enough that replies to the first wait no longer than a few
/// microseconds per query for the last.
pub const BATCH: usize = 32;

/// Largest query read whole; a longer datagram is cut here and answered FORMERR (no DNS query
/// is this long: one name and an OPT record fit in 300 octets).
pub const MAX_QUERY: usize = 4096;

/// How long a send waits for room in the socket's buffer before it gives up on a batch's
/// replies (they are lost as UDP may lose them; the clients ask again).
const SEND_WAIT: Duration = Duration::from_millis(100);

/// How often an idle receive loop wakes to see whether the daemon is stopping (the socket's
/// receive timeout, set by [`prepare`]).
pub const IDLE_WAKE: Duration = Duration::from_millis(500);

/// Receive buffers and addresses for one batch.
pub struct RecvBatch {
    bufs: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    addr_lens: [libc::socklen_t; BATCH],
    lens: [usize; BATCH],
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBatch {
    /// Buffers for [`BATCH`] datagrams of [`MAX_QUERY`] octets.
    pub fn new() -> Self {
        // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid (unspecified) one.
        let empty: libc::sockaddr_storage = unsafe { zeroed() };
        Self {
            bufs: vec![0; BATCH * MAX_QUERY],
            addrs: vec![empty; BATCH],
            addr_lens: [0; BATCH],
            lens: [0; BATCH],
        }
    }

    /// Waits until a datagram arrives, then takes every one waiting, at most [`BATCH`];
    /// returns how many, 0 when none came for [`IDLE_WAKE`].
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.recv_with(fd, libc::MSG_WAITFORONE)
    }

    /// Takes every datagram waiting, at most [`BATCH`], without waiting: 0 when none is.
    pub fn recv_now(&mut self, fd: RawFd) -> io::Result<usize> {
        self.recv_with(fd, libc::MSG_DONTWAIT)
    }

    fn recv_with(&mut self, fd: RawFd, flags: libc::c_int) -> io::Result<usize> {
        // SAFETY: iovec and mmsghdr are plain old data; every pointer set below stays valid
        // for the call, as the buffers they point into are borrowed mutably for its length.
        let mut iov: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (i, (v, h)) in iov.iter_mut().zip(hdrs.iter_mut()).enumerate() {
            v.iov_base = self.bufs[i * MAX_QUERY..].as_mut_ptr().cast();
            v.iov_len = MAX_QUERY;
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
        }
        loop {
            // SAFETY: hdrs holds BATCH initialised headers whose buffers outlive the call.
            let n = unsafe {
                libc::recvmmsg(fd, hdrs.as_mut_ptr(), BATCH as libc::c_uint, flags, std::ptr::null_mut())
            };
            if n >= 0 {
                let n = n as usize;
                for (i, h) in hdrs.iter().take(n).enumerate() {
                    self.lens[i] = (h.msg_len as usize).min(MAX_QUERY);
                    self.addr_lens[i] = h.msg_hdr.msg_namelen;
                }
                return Ok(n);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                // The receive timeout (IDLE_WAKE) passed without a datagram.
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Ok(0),
                io::ErrorKind::Interrupted => {}
                _ => return Err(e),
            }
        }
    }

    /// Datagram `i` of the last batch and where it came from (`None` for an address family
    /// other than IPv4 and IPv6).
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        let data = self.bufs.get(i * MAX_QUERY..i * MAX_QUERY + *self.lens.get(i)?)?;
        Some((data, socket_addr(self.addrs.get(i)?, self.addr_lens[i])?))
    }
}

/// Replies gathered for one `sendmmsg(2)`.
#[derive(Default)]
pub struct SendBatch {
    replies: Vec<(Vec<u8>, libc::sockaddr_storage, libc::socklen_t)>,
}

impl SendBatch {
    /// Queues a reply.
    pub fn push(&mut self, reply: Vec<u8>, to: SocketAddr) {
        let (addr, len) = sockaddr(to);
        self.replies.push((reply, addr, len));
    }

    /// Sends every queued reply; those the kernel refuses are dropped (and logged at debug).
    pub fn flush(&mut self, fd: RawFd) {
        if self.replies.is_empty() {
            return;
        }
        let n = self.replies.len();
        // SAFETY: plain old data; the pointers set below point into self.replies, which is
        // not touched until the last call returns.
        let mut iov: Vec<libc::iovec> = vec![unsafe { zeroed() }; n];
        let mut hdrs: Vec<libc::mmsghdr> = vec![unsafe { zeroed() }; n];
        for ((v, h), (reply, addr, len)) in iov.iter_mut().zip(hdrs.iter_mut()).zip(self.replies.iter_mut()) {
            v.iov_base = reply.as_mut_ptr().cast();
            v.iov_len = reply.len();
            h.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = *len;
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
        }
        let mut sent = 0;
        while sent < n {
            // SAFETY: hdrs[sent..] are initialised headers whose buffers outlive the call.
            let r = unsafe {
                libc::sendmmsg(fd, hdrs[sent..].as_mut_ptr(), (n - sent) as libc::c_uint, libc::MSG_DONTWAIT)
            };
            if r > 0 {
                sent += r as usize;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock
                    if wait(fd, libc::POLLOUT, SEND_WAIT.as_millis() as i32).is_ok() => {}
                _ => {
                    // This reply cannot go (its address unreachable, the buffer full for long):
                    // the others still may.
                    tracing::debug!("UDP send: {e}");
                    sent += 1;
                }
            }
        }
        self.replies.clear();
    }
}

/// Makes `socket` blocking with the receive timeout these loops expect.
pub fn prepare(socket: &std::net::UdpSocket) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(IDLE_WAKE))
}

/// Sends one reply without blocking; a reply the kernel has no room for is dropped, as UDP may
/// drop it (the client asks again).
pub fn send_now(fd: RawFd, reply: &[u8], to: SocketAddr) {
    let (addr, len) = sockaddr(to);
    // SAFETY: reply and addr are valid for the call.
    let r = unsafe {
        libc::sendto(
            fd,
            reply.as_ptr().cast(),
            reply.len(),
            libc::MSG_DONTWAIT,
            (&addr as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if r < 0 {
        tracing::debug!("UDP send: {}", io::Error::last_os_error());
    }
}

/// Waits for `events` on `fd`, at most `timeout_ms` (-1: no limit).
fn wait(fd: RawFd, events: libc::c_short, timeout_ms: i32) -> io::Result<()> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    match r {
        1.. => Ok(()),
        0 => Err(io::ErrorKind::TimedOut.into()),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) }
        }
    }
}

/// The socket address in `storage`, as the kernel wrote it.
fn socket_addr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and it is long enough.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// `addr` as a sockaddr for the kernel.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: plain old data, filled in below as the family requires.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let s =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            s.sin_port = a.port().to_be();
            s.sin_addr = libc::in_addr { s_addr: u32::from(*a.ip()).to_be() };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let s =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_port = a.port().to_be();
            s.sin6_flowinfo = a.flowinfo();
            s.sin6_addr = libc::in6_addr { s6_addr: a.ip().octets() };
            s.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_takes_every_waiting_datagram_and_replies_reach_their_senders() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        prepare(&server).unwrap();
        let clients: Vec<_> = (0..5).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        for (i, c) in clients.iter().enumerate() {
            c.send_to(&[i as u8; 20], server.local_addr().unwrap()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut rx = RecvBatch::new();
        let n = rx.recv(server.as_raw_fd()).unwrap();
        assert_eq!(n, 5);
        let mut tx = SendBatch::default();
        for i in 0..n {
            let (data, from) = rx.get(i).unwrap();
            assert_eq!(data.len(), 20);
            tx.push(vec![data[0]; 3], from);
        }
        tx.flush(server.as_raw_fd());
        // Nothing more waiting: the receive timeout ends the wait with an empty batch.
        assert_eq!(rx.recv(server.as_raw_fd()).unwrap(), 0);
        for (i, c) in clients.iter().enumerate() {
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 16];
            assert_eq!(c.recv(&mut buf).unwrap(), 3);
            assert_eq!(buf[0], i as u8);
        }
    }

    #[test]
    fn addresses_convert_both_ways() {
        for a in ["192.0.2.1:53", "[2001:db8::1]:5353"] {
            let a: SocketAddr = a.parse().unwrap();
            let (s, len) = sockaddr(a);
            assert_eq!(socket_addr(&s, len), Some(a));
        }
    }
}
