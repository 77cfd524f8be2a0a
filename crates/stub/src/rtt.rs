//! Round-trip time per upstream and the timeout it gives, as TCP's retransmission timer
//! (RFC 6298 §2) and Unbound's infrastructure cache do: a smoothed RTT and its mean deviation,
//! timeout = srtt + 4 · rttvar within bounds, doubled on a real timeout.
//!
//! Why: one fixed per-try timeout fails every query to an upstream slower than it (measured:
//! 200 of 200 SERVFAIL from an upstream answering in 450 ms with a 400 ms try), and waits too
//! long on a fast one that lost a datagram.

use std::sync::Mutex;
use std::time::Duration;

/// Shortest timeout, however fast the upstream has been (Unbound's `RTT_MIN_TIMEOUT`, 50 ms):
/// below it, scheduling jitter alone would look like loss.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(50);

/// Upstreams whose timeouts are within this band of the best one's are chosen among at random,
/// spreading the load; slower ones are asked only after them (Unbound's `RTT_BAND`, 400 ms).
pub const RTT_BAND: Duration = Duration::from_millis(400);

/// The estimate for one upstream. Times in milliseconds.
#[derive(Debug)]
pub struct Rtt {
    state: Mutex<State>,
    max_ms: u32,
}

#[derive(Debug, Clone, Copy)]
struct State {
    srtt: u32,
    rttvar: u32,
    /// The timeout in force: srtt + 4·rttvar, or more after a loss.
    rto: u32,
}

impl Rtt {
    /// A new upstream, not yet measured: its first timeout is `initial` (srtt 0, rttvar a
    /// quarter of it, as Unbound starts at 0 + 4 · 94 ms), never more than `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let max_ms = clamp_ms(max).max(ms(MIN_TIMEOUT));
        let initial = clamp_ms(initial).clamp(ms(MIN_TIMEOUT), max_ms);
        Self { state: Mutex::new(State { srtt: 0, rttvar: initial / 4, rto: initial }), max_ms }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long to wait for this upstream's reply now.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.lock().rto))
    }

    /// The smoothed round-trip time (0 before the first reply).
    pub fn smoothed(&self) -> Duration {
        Duration::from_millis(u64::from(self.lock().srtt))
    }

    /// A reply came after `measured` (RFC 6298 §2.3, gains 1/8 and 1/4).
    pub fn update(&self, measured: Duration) {
        let r = i64::from(clamp_ms(measured));
        let mut s = self.lock();
        let delta = r - i64::from(s.srtt);
        let srtt = (i64::from(s.srtt) + delta / 8).max(0);
        let rttvar = (i64::from(s.rttvar) + (delta.abs() - i64::from(s.rttvar)) / 4).max(0);
        s.srtt = u32::try_from(srtt).unwrap_or(u32::MAX);
        s.rttvar = u32::try_from(rttvar).unwrap_or(u32::MAX);
        s.rto = self.bounded(u64::from(s.srtt) + 4 * u64::from(s.rttvar));
    }

    /// The query waited `used` and got nothing: back off (RFC 6298 §5.5). The timeout used is
    /// doubled, not the current one, so that many queries timing out together double it once.
    pub fn lost(&self, used: Duration) {
        let doubled = self.bounded(u64::from(clamp_ms(used)) * 2);
        let mut s = self.lock();
        if s.rto <= doubled {
            s.rto = doubled;
        }
    }

    fn bounded(&self, rto: u64) -> u32 {
        u32::try_from(rto).unwrap_or(u32::MAX).clamp(ms(MIN_TIMEOUT), self.max_ms)
    }
}

fn ms(d: Duration) -> u32 {
    clamp_ms(d)
}

fn clamp_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_new_upstream_waits_the_initial_timeout() {
        let r = Rtt::new(MS(400), MS(3000));
        assert_eq!(r.timeout(), MS(400));
        assert_eq!(Rtt::new(MS(1), MS(3000)).timeout(), MIN_TIMEOUT);
        assert_eq!(Rtt::new(MS(9000), MS(3000)).timeout(), MS(3000));
    }

    #[test]
    fn replies_pull_the_timeout_toward_what_they_measure() {
        let fast = Rtt::new(MS(400), MS(3000));
        for _ in 0..40 {
            fast.update(MS(2));
        }
        assert_eq!(fast.timeout(), MIN_TIMEOUT, "a 2 ms upstream is waited for the minimum");
        let slow = Rtt::new(MS(400), MS(3000));
        for _ in 0..40 {
            slow.update(MS(450));
        }
        let t = slow.timeout();
        assert!(t > MS(450) && t < MS(700), "{t:?}");
        assert!(slow.smoothed() > MS(400), "{:?}", slow.smoothed());
    }

    #[test]
    fn a_loss_doubles_the_timeout_used_once_and_stops_at_the_maximum() {
        let r = Rtt::new(MS(400), MS(3000));
        r.lost(MS(400));
        r.lost(MS(400));
        assert_eq!(r.timeout(), MS(800), "two queries lost together double it once");
        r.lost(MS(800));
        r.lost(MS(1600));
        r.lost(MS(3200));
        assert_eq!(r.timeout(), MS(3000));
        r.update(MS(10));
        assert!(r.timeout() < MS(3000), "a reply brings it back down");
    }

    #[test]
    fn outside_numbers_do_not_overflow() {
        let r = Rtt::new(Duration::MAX, Duration::MAX);
        r.update(Duration::MAX);
        r.lost(Duration::MAX);
        r.update(Duration::ZERO);
        let _ = r.timeout();
    }
}
