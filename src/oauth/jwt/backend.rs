//! The signature primitives behind [`Key`](super::Key), chosen the way rustls chooses its
//! crypto provider: ring by default, AWS-LC (aws-lc-rs, the same API) with the feature
//! `aws-lc-rs`. Ed25519 is ed25519-dalek's on either (the cheapest verify of the three,
//! benches/README.md); P-521, which ring lacks, is AWS-LC's when it is on and RustCrypto's
//! p521 otherwise.
//!
//! Every key is checked when it is loaded, by the backend that will verify with it, so a key
//! it cannot use is refused when a JWKS is read, with the reason, never at verification.

use std::fmt;
#[cfg(feature = "aws-lc-rs")]
use std::sync::{Arc, OnceLock};

#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs as lib;
#[cfg(not(feature = "aws-lc-rs"))]
use ring as lib;

use lib::signature;

use super::alg::Algorithm;

/// The library that verifies ECDSA and RSA signatures in this build: `"ring"`, or
/// `"aws-lc-rs"` with the feature of that name.
///
/// ```
/// let expected = if cfg!(feature = "aws-lc-rs") { "aws-lc-rs" } else { "ring" };
/// assert_eq!(tower_bearer::oauth::signature_backend(), expected);
/// ```
pub fn signature_backend() -> &'static str {
    if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    }
}

/// A NIST curve of ECDSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The length of a coordinate (and of each half of a JWS signature), in bytes.
    pub(super) fn len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    pub(super) fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }
}

/// A public key, loaded and checked by the backend that verifies with it.
#[derive(Clone)]
pub(super) enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    Ec(Ec),
    Rsa(Rsa),
}

/// An ECDSA key: the uncompressed point (ring parses it per verify, which is part of its
/// verify cost), or AWS-LC's parsed key.
#[derive(Clone)]
pub(super) enum Ec {
    #[cfg(not(feature = "aws-lc-rs"))]
    Ring { curve: Curve, point: Box<[u8]> },
    #[cfg(not(feature = "aws-lc-rs"))]
    P521(Box<p521::ecdsa::VerifyingKey>),
    #[cfg(feature = "aws-lc-rs")]
    AwsLc {
        curve: Curve,
        key: Arc<signature::ParsedPublicKey>,
    },
}

/// An RSA key of 2048 to 8192 bits.
#[derive(Clone)]
pub(super) struct Rsa {
    /// Minimal big-endian modulus and exponent.
    #[cfg(not(feature = "aws-lc-rs"))]
    n: Box<[u8]>,
    #[cfg(not(feature = "aws-lc-rs"))]
    e: Box<[u8]>,
    /// The `RSAPublicKey` DER, and AWS-LC's parsed key per algorithm, made when first used
    /// (the first, RS256's, when loaded: that parse is the check).
    #[cfg(feature = "aws-lc-rs")]
    der: Box<[u8]>,
    #[cfg(feature = "aws-lc-rs")]
    parsed: Arc<[OnceLock<signature::ParsedPublicKey>; 6]>,
    bits: usize,
}

impl PublicKey {
    /// An Ed25519 key from its 32 bytes.
    pub(super) fn ed25519(x: &[u8]) -> Result<PublicKey, String> {
        let x: [u8; 32] = x.try_into().map_err(|_| "x is not 32 bytes")?;
        ed25519_dalek::VerifyingKey::from_bytes(&x)
            .map(PublicKey::Ed25519)
            .map_err(|_| "not an Ed25519 point".to_owned())
    }

    /// An ECDSA key from its uncompressed SEC1 point (`04 || x || y`), which must be on the
    /// curve. `once`: a key that verifies one signature (a DPoP proof's), whose point ring
    /// checks as part of that verify, so the load skips its own check (two scalar
    /// multiplications, which would double a proof's cost).
    pub(super) fn ec(curve: Curve, point: &[u8], once: bool) -> Result<PublicKey, String> {
        if point.len() != 1 + 2 * curve.len() || point[0] != 4 {
            return Err(format!(
                "not an uncompressed {} point of the right length",
                curve.name()
            ));
        }
        let not_on_curve = || format!("not a point on {}", curve.name());
        #[cfg(feature = "aws-lc-rs")]
        {
            let _ = once;
            let key =
                signature::ParsedPublicKey::new(ecdsa(curve), point).map_err(|_| not_on_curve())?;
            Ok(PublicKey::Ec(Ec::AwsLc {
                curve,
                key: Arc::new(key),
            }))
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            let agreement = match curve {
                Curve::P256 => &lib::agreement::ECDH_P256,
                Curve::P384 => &lib::agreement::ECDH_P384,
                Curve::P521 => {
                    return p521::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map(|key| PublicKey::Ec(Ec::P521(Box::new(key))))
                        .map_err(|_| not_on_curve());
                }
            };
            if once {
                return Ok(PublicKey::Ec(Ec::Ring {
                    curve,
                    point: point.into(),
                }));
            }
            // ring checks a point only when it uses it; an agreement with a throwaway key
            // is its public point validation (the same as for ECDSA), run once here.
            let rng = lib::rand::SystemRandom::new();
            let ours = lib::agreement::EphemeralPrivateKey::generate(agreement, &rng)
                .map_err(|_| "the OS random number generator failed".to_owned())?;
            let theirs = lib::agreement::UnparsedPublicKey::new(agreement, point);
            lib::agreement::agree_ephemeral(ours, &theirs, |_| ()).map_err(|_| not_on_curve())?;
            Ok(PublicKey::Ec(Ec::Ring {
                curve,
                point: point.into(),
            }))
        }
    }

    /// An RSA key from its modulus and exponent (big-endian; leading zero bytes are
    /// ignored). Refused, as both backends refuse them: a modulus under 2048 bits (counted in
    /// bits) or over 8192, an even modulus, an exponent under 3, even, or over 2^33 - 1.
    pub(super) fn rsa(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
        let (n, e) = (minimal(n), minimal(e));
        let bits = n.len() * 8 - n.first().map_or(8, |top| top.leading_zeros() as usize);
        if bits < 2048 {
            return Err(format!(
                "an RSA key of {bits} bits: keys under 2048 bits are refused (RFC 7518 §3.3)"
            ));
        }
        if bits > 8192 {
            return Err(format!("an RSA key of {bits} bits: over 8192 bits"));
        }
        if n.last().is_some_and(|low| low & 1 == 0) {
            return Err("an even RSA modulus".into());
        }
        let exponent = (e.len() <= 5).then(|| e.iter().fold(0u64, |v, b| v << 8 | u64::from(*b)));
        match exponent {
            Some(e) if (3..(1 << 33)).contains(&e) && e & 1 == 1 => {}
            _ => return Err("an RSA exponent that is even, under 3 or over 2^33 - 1".into()),
        }
        #[cfg(feature = "aws-lc-rs")]
        {
            let der = rsa_public_key_der(n, e);
            let parsed: [OnceLock<signature::ParsedPublicKey>; 6] = Default::default();
            let first = signature::ParsedPublicKey::new(rsa(Algorithm::RS256), &der)
                .map_err(|error| format!("AWS-LC refuses the RSA key: {error}"))?;
            let _ = parsed[0].set(first);
            Ok(PublicKey::Rsa(Rsa {
                der: der.into(),
                parsed: Arc::new(parsed),
                bits,
            }))
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        Ok(PublicKey::Rsa(Rsa {
            n: n.into(),
            e: e.into(),
            bits,
        }))
    }

    /// Whether the key's type verifies `alg` (never an HMAC algorithm).
    pub(super) fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            PublicKey::Ed25519(_) => matches!(alg, EdDSA | Ed25519),
            PublicKey::Ec(ec) => ec.curve().algorithm() == alg,
            PublicKey::Rsa(_) => rsa_index(alg).is_some(),
        }
    }

    /// A short description: type, curve or size.
    pub(super) fn describe(&self) -> String {
        match self {
            PublicKey::Ed25519(_) => "Ed25519".into(),
            PublicKey::Ec(ec) => ec.curve().name().into(),
            PublicKey::Rsa(rsa) => format!("RSA {}", rsa.bits),
        }
    }

    /// Whether `signature` is this key's signature of `input` under `alg`. The caller has
    /// checked that the key fits `alg`.
    pub(super) fn verify(&self, alg: Algorithm, input: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|sig| key.verify_strict(input, &sig).is_ok()),
            PublicKey::Ec(ec) => ec.verify(input, sig),
            PublicKey::Rsa(key) => key.verify(alg, input, sig),
        }
    }
}

impl Ec {
    fn curve(&self) -> Curve {
        match self {
            #[cfg(not(feature = "aws-lc-rs"))]
            Ec::Ring { curve, .. } => *curve,
            #[cfg(not(feature = "aws-lc-rs"))]
            Ec::P521(_) => Curve::P521,
            #[cfg(feature = "aws-lc-rs")]
            Ec::AwsLc { curve, .. } => *curve,
        }
    }

    /// A JWS ECDSA signature is `r || s`, each the curve's length (RFC 7518 §3.4).
    fn verify(&self, input: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 2 * self.curve().len() {
            return false;
        }
        match self {
            #[cfg(not(feature = "aws-lc-rs"))]
            Ec::Ring { curve, point } => signature::UnparsedPublicKey::new(ecdsa(*curve), point)
                .verify(input, sig)
                .is_ok(),
            #[cfg(not(feature = "aws-lc-rs"))]
            Ec::P521(key) => {
                use p521::ecdsa::signature::Verifier as _;
                p521::ecdsa::Signature::from_slice(sig)
                    .is_ok_and(|sig| key.verify(input, &sig).is_ok())
            }
            #[cfg(feature = "aws-lc-rs")]
            Ec::AwsLc { key, .. } => key.verify_sig(input, sig).is_ok(),
        }
    }
}

impl Rsa {
    fn verify(&self, alg: Algorithm, input: &[u8], sig: &[u8]) -> bool {
        let Some(index) = rsa_index(alg) else {
            return false;
        };
        #[cfg(feature = "aws-lc-rs")]
        {
            let parsed = self.parsed[index].get_or_init(|| {
                signature::ParsedPublicKey::new(rsa(alg), &self.der)
                    .expect("the key parsed when it was loaded")
            });
            parsed.verify_sig(input, sig).is_ok()
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            let _ = index;
            signature::RsaPublicKeyComponents {
                n: &self.n,
                e: &self.e,
            }
            .verify(rsa(alg), input, sig)
            .is_ok()
        }
    }
}

fn minimal(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

fn rsa_index(alg: Algorithm) -> Option<usize> {
    use Algorithm::*;
    [RS256, RS384, RS512, PS256, PS384, PS512]
        .iter()
        .position(|a| *a == alg)
}

fn rsa(alg: Algorithm) -> &'static signature::RsaParameters {
    use Algorithm::*;
    match alg {
        RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        _ => &signature::RSA_PSS_2048_8192_SHA512,
    }
}

fn ecdsa(curve: Curve) -> &'static signature::EcdsaVerificationAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        #[cfg(feature = "aws-lc-rs")]
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
        #[cfg(not(feature = "aws-lc-rs"))]
        Curve::P521 => unreachable!("P-521 is p521's without aws-lc-rs"),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017 A.1.1),
/// DER, from minimal big-endian magnitudes.
#[cfg(feature = "aws-lc-rs")]
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn length(out: &mut Vec<u8>, len: usize) {
        match len {
            0..=0x7f => out.push(len as u8),
            0x80..=0xff => out.extend([0x81, len as u8]),
            _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
        }
    }
    fn integer(out: &mut Vec<u8>, magnitude: &[u8]) {
        let pad = magnitude.first().is_some_and(|top| top & 0x80 != 0);
        out.push(0x02);
        length(out, magnitude.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(magnitude);
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 12);
    integer(&mut body, n);
    integer(&mut body, e);
    let mut der = vec![0x30];
    length(&mut der, body.len());
    der.extend(body);
    der
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_keys_are_checked_when_loaded() {
        let mut n = [0u8; 256];
        (n[0], n[255]) = (0x80, 0x01);
        assert!(PublicKey::rsa(&n, &[1, 0, 1]).is_ok(), "2048 bits");
        assert!(PublicKey::rsa(&[&[0u8][..], &n].concat(), &[1, 0, 1]).is_ok());
        n[0] = 0x01;
        let error = PublicKey::rsa(&n, &[1, 0, 1]).unwrap_err();
        assert!(error.contains("2041 bits"), "{error}");
        n[0] = 0x80;
        n[255] = 0x02;
        assert!(PublicKey::rsa(&n, &[1, 0, 1]).unwrap_err().contains("even"));
        n[255] = 0x01;
        for e in [
            &[1u8][..],
            &[2],
            &[1, 0, 0],
            &[2, 0, 0, 0, 1],
            &[1, 0, 0, 0, 0, 1],
        ] {
            assert!(PublicKey::rsa(&n, e).is_err(), "{e:?}");
        }
        assert!(PublicKey::rsa(&[0xff; 1025], &[3])
            .unwrap_err()
            .contains("8200 bits"));
    }

    #[test]
    fn ec_points_are_checked_when_loaded() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let mut point = vec![4u8; 1 + 2 * curve.len()];
            assert!(
                PublicKey::ec(curve, &point, false).is_err(),
                "{curve:?} (4, 4…) is off the curve"
            );
            point.truncate(point.len() - 1);
            assert!(PublicKey::ec(curve, &point, false).is_err());
        }
    }
}
