//! Public keys in PEM (`-----BEGIN PUBLIC KEY-----`): the DER SubjectPublicKeyInfo inside,
//! read with RustCrypto's `spki` and `pkcs1` (no `rsa` crate), into the backend's key type.

use super::backend::{Curve, PublicKey};

/// A public key from a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7): Ed25519 (RFC 8410),
/// an EC key on a named NIST curve (RFC 5480) or RSA (RFC 8017's `RSAPublicKey` inside).
pub(super) fn spki_key(der: &[u8]) -> Result<PublicKey, String> {
    use spki::der::{asn1::ObjectIdentifier as Oid, Decode as _};
    const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
    const EC: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    const RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    let info = spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
    let bits = info
        .subject_public_key
        .as_bytes()
        .ok_or("a public key that is not whole bytes")?;
    match info.algorithm.oid {
        ED25519 => PublicKey::ed25519(bits),
        EC => {
            let named = info
                .algorithm
                .parameters_oid()
                .map_err(|_| "an EC key without a named curve")?;
            let curve = match named.to_string().as_str() {
                "1.2.840.10045.3.1.7" => Curve::P256,
                "1.3.132.0.34" => Curve::P384,
                "1.3.132.0.35" => Curve::P521,
                other => return Err(format!("an EC key on an unsupported curve {other}")),
            };
            PublicKey::ec(curve, bits, false)
        }
        RSA => {
            let key = pkcs1::RsaPublicKey::from_der(bits)
                .map_err(|e| format!("not an RSAPublicKey: {e}"))?;
            PublicKey::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes())
        }
        other => Err(format!("an unsupported key algorithm {other}")),
    }
}
