//! Measures the in-process signing rate of one algorithm on one thread, with the same
//! library and key type the token service uses: the ceiling the HTTP benchmark is compared
//! against.
//!
//! `cargo run --release -p brandstream-auth --example sign_rate -- RS256 3`

use std::time::{Duration, Instant};

use brandstream_auth::keys::{generate_key_pair, Signer, SigningAlgorithm};

fn main() {
    let mut args = std::env::args().skip(1);
    let alg = args.next().unwrap_or_else(|| "RS256".into());
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let Some(alg) = SigningAlgorithm::parse(&alg) else {
        eprintln!("usage: sign_rate RS256|ES256|EdDSA [seconds]");
        std::process::exit(2);
    };
    let Ok((pkcs8, _)) = generate_key_pair(alg) else {
        eprintln!("key generation failed");
        std::process::exit(1);
    };
    let Ok(signer) = Signer::from_pkcs8(alg, &pkcs8) else {
        eprintln!("key loading failed");
        std::process::exit(1);
    };
    // A signing input of the size of a real token's header and claims.
    let message = vec![b'a'; 560];
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut count: u64 = 0;
    while Instant::now() < deadline {
        for _ in 0..16 {
            if signer.sign(&message).is_err() {
                eprintln!("signing failed");
                std::process::exit(1);
            }
        }
        count += 16;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    println!("{alg} {rate:.0}");
}
