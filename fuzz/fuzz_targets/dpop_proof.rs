//! Arbitrary `DPoP` header values through `check_proof`, with RFC 9449 §7.1's request (its
//! method, URI, access token and clock): the JWS parser, the header and claim checks, the
//! `jwk` loader, the thumbprint and the verifiers see attacker bytes. The oracle: a proof is
//! accepted only if its header and claims are the RFC's own example's (an ECDSA signature has
//! a second valid form, so the signature alone may differ); nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_bearer::dpop::{check_proof, normalize_htu, ProofRequest, ProofSettings};

/// RFC 9449 §7.1, Figure 13 (also `seeds/dpop_proof/rfc9449`).
const RFC_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let request = ProofRequest {
        method: "GET",
        uri: "https://resource.example.org/protectedresource",
        access_token: Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        now: 1562262618,
    };
    let signed_part = |proof: &str| proof.rsplit_once('.').map(|(input, _)| input.to_owned());
    match check_proof(text, &request, &ProofSettings::new()) {
        Ok(proof) => {
            assert_eq!(
                signed_part(text),
                signed_part(RFC_PROOF),
                "accepted a proof the RFC did not sign"
            );
            assert_eq!(proof.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
        }
        Err(error) => assert_ne!(text, RFC_PROOF, "refused the RFC's proof: {error}"),
    }
    // The normaliser on its own: idempotent, and never a query or fragment.
    if let Some(normal) = normalize_htu(text) {
        assert_eq!(normalize_htu(&normal).as_deref(), Some(normal.as_str()));
        assert!(!normal.contains(['?', '#']));
    }
});
