//! [`Nonces`]: server-issued DPoP nonces (RFC 9449 §9), stateless and rotating, so that
//! every instance that shares the secret issues and accepts the same ones.

use std::fmt;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The bytes of the MAC a nonce carries: 128 bits, 22 base64url characters.
const NONCE_BYTES: usize = 16;
/// The shortest secret [`Nonces::new`] takes.
const MIN_SECRET: usize = 16;

/// What [`Nonces::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// The current period's nonce.
    Current,
    /// The previous period's: accept the proof, and send the current nonce (`DPoP-Nonce`) with
    /// the answer.
    Previous,
    /// The proof carries no nonce: answer `use_dpop_nonce` with the current one.
    Missing,
    /// Another nonce (older, made up, or another secret's): answer `use_dpop_nonce` with the
    /// current one.
    Stale,
}

impl NonceCheck {
    /// Whether the proof's nonce is accepted ([`Current`](Self::Current) or
    /// [`Previous`](Self::Previous)).
    pub fn is_accepted(self) -> bool {
        matches!(self, NonceCheck::Current | NonceCheck::Previous)
    }
}

/// Server nonces that need no storage: the nonce of a period is the truncated
/// HMAC-SHA256 of the period's number (`now / period`) under a secret, so every instance that
/// shares the secret issues and accepts the same nonces. A proof's nonce is accepted when it
/// is the current period's or the previous one's (compared in constant time), so a nonce
/// lives between one and two periods.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::dpop::{NonceCheck, Nonces};
///
/// let a = Nonces::new(b"a secret shared by every instance", Duration::from_secs(60));
/// let b = Nonces::new(b"a secret shared by every instance", Duration::from_secs(60));
/// let now = 1_700_000_000;
/// let nonce = a.current(now);
/// assert_eq!(b.check(Some(&nonce), now + 30), NonceCheck::Current);
/// assert_eq!(b.check(Some(&nonce), now + 60), NonceCheck::Previous);
/// assert_eq!(b.check(Some(&nonce), now + 120), NonceCheck::Stale);
/// ```
#[derive(Clone)]
pub struct Nonces {
    mac: Hmac<Sha256>,
    period: i64,
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("period", &Duration::from_secs(self.period as u64))
            .field("secret", &"***")
            .finish()
    }
}

impl Nonces {
    /// Nonces under `secret`, a new one every `period` (whole seconds). Instances given the
    /// same secret and period accept each other's nonces.
    ///
    /// # Panics
    ///
    /// If `secret` is shorter than 16 bytes, or `period` is under one second: configuration
    /// errors, found at start-up.
    pub fn new(secret: impl AsRef<[u8]>, period: Duration) -> Self {
        let secret = secret.as_ref();
        assert!(
            secret.len() >= MIN_SECRET,
            "a DPoP nonce secret must be at least {MIN_SECRET} bytes"
        );
        let period = period.as_secs();
        assert!(period >= 1, "a DPoP nonce period must be at least 1 s");
        Nonces {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key"),
            period: i64::try_from(period).unwrap_or(i64::MAX),
        }
    }

    /// Nonces under a secret of 32 bytes from the OS's random number generator: for one
    /// instance (others cannot accept its nonces).
    ///
    /// # Panics
    ///
    /// If the OS's random number generator fails, or `period` is under one second.
    pub fn random(period: Duration) -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the OS random number generator failed");
        Self::new(secret, period)
    }

    /// The rotation period.
    pub fn period(&self) -> Duration {
        Duration::from_secs(self.period as u64)
    }

    /// The nonce to send now (`DPoP-Nonce`); `now` in Unix seconds.
    pub fn current(&self, now: i64) -> String {
        self.nonce(now.div_euclid(self.period))
    }

    /// Whether `nonce`, a proof's, is the current period's or the previous one's.
    pub fn check(&self, nonce: Option<&str>, now: i64) -> NonceCheck {
        let Some(nonce) = nonce else {
            return NonceCheck::Missing;
        };
        let epoch = now.div_euclid(self.period);
        // Both compared, whatever the first gives: the time taken tells nothing.
        let current =
            crate::token::constant_time_eq(nonce.as_bytes(), self.nonce(epoch).as_bytes());
        let previous = crate::token::constant_time_eq(
            nonce.as_bytes(),
            self.nonce(epoch.wrapping_sub(1)).as_bytes(),
        );
        match (current, previous) {
            (true, _) => NonceCheck::Current,
            (false, true) => NonceCheck::Previous,
            (false, false) => NonceCheck::Stale,
        }
    }

    fn nonce(&self, epoch: i64) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"tower-bearer dpop nonce v1\0");
        mac.update(&epoch.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        Base64UrlUnpadded::encode_string(&tag[..NONCE_BYTES])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"the nonce secret of these tests";
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn current_previous_and_stale() {
        let nonces = Nonces::new(SECRET, MINUTE);
        let now = 1_700_000_020; // 40 s into a period
        let nonce = nonces.current(now);
        assert_eq!(nonce.len(), 22);
        assert_eq!(nonces.check(Some(&nonce), now), NonceCheck::Current);
        assert_eq!(nonces.check(Some(&nonce), now + 19), NonceCheck::Current);
        assert_eq!(nonces.check(Some(&nonce), now + 20), NonceCheck::Previous);
        assert_eq!(nonces.check(Some(&nonce), now + 79), NonceCheck::Previous);
        assert_eq!(nonces.check(Some(&nonce), now + 80), NonceCheck::Stale);
        assert_eq!(
            nonces.check(Some(&nonce), now - 60),
            NonceCheck::Stale,
            "a future one"
        );
        assert_eq!(nonces.check(None, now), NonceCheck::Missing);
        assert_eq!(nonces.check(Some(""), now), NonceCheck::Stale);
        assert_eq!(nonces.check(Some(&nonce[..21]), now), NonceCheck::Stale);
        assert_ne!(nonces.current(now + 20), nonce, "it rotates");
        assert!(NonceCheck::Previous.is_accepted() && !NonceCheck::Stale.is_accepted());
    }

    #[test]
    fn instances_share_nonces_by_their_secret_only() {
        let a = Nonces::new(SECRET, MINUTE);
        let b = Nonces::new(SECRET, MINUTE);
        let other = Nonces::new(b"another secret, another service", MINUTE);
        let now = 1_700_000_000;
        assert_eq!(b.check(Some(&a.current(now)), now), NonceCheck::Current);
        assert_eq!(
            a.check(Some(&b.current(now)), now + 60),
            NonceCheck::Previous
        );
        assert_eq!(other.check(Some(&a.current(now)), now), NonceCheck::Stale);
        let random = Nonces::random(MINUTE);
        assert_eq!(
            random.check(Some(&random.current(now)), now),
            NonceCheck::Current
        );
        assert_eq!(a.check(Some(&random.current(now)), now), NonceCheck::Stale);
    }

    #[test]
    fn negative_times_and_debug() {
        let nonces = Nonces::new(SECRET, MINUTE);
        let nonce = nonces.current(-1);
        assert_eq!(nonces.check(Some(&nonce), -60), NonceCheck::Current);
        assert_eq!(nonces.check(Some(&nonce), 0), NonceCheck::Previous);
        let shown = format!("{nonces:?}");
        assert!(
            !shown.contains("nonce secret") && shown.contains("***"),
            "{shown}"
        );
    }

    #[test]
    #[should_panic(expected = "at least 16 bytes")]
    fn a_short_secret_is_refused() {
        let _ = Nonces::new(b"short", MINUTE);
    }
}
