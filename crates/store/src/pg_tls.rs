//! TLS for PostgreSQL connections, with libpq's `sslmode` meanings.
//!
//! `disable` connects in clear. `prefer` (the default) and `require` encrypt without checking
//! the server's certificate, as libpq does: they protect against eavesdropping, not against an
//! active man in the middle. `verify-ca` and `verify-full` check the certificate against the
//! file named by `sslrootcert` or `PGSSLROOTCERT` if there is one, else against the Mozilla
//! roots; and, as with libpq, `prefer`/`require` also verify when such a root file is given.
//! tokio-postgres does not know the verify modes, so the URL is rewritten to `require` with a
//! verifying connector. (Host names are always checked when verifying, as `verify-full` does.)

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::{StoreError, StoreResult};

/// How a URL asks the server's certificate to be treated.
pub(crate) struct TlsChoice {
    /// The URL tokio-postgres can parse (verify modes rewritten to `require`).
    pub url: String,
    /// Whether the certificate must chain to a trusted root.
    pub verify: bool,
    /// An extra trusted root certificate file (PEM).
    pub root_file: Option<String>,
}

/// Splits the TLS wishes out of a connection URL.
pub(crate) fn tls_choice(url: &str) -> TlsChoice {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut verify = false;
    let mut root_file = std::env::var("PGSSLROOTCERT")
        .ok()
        .filter(|v| !v.is_empty());
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", "verify-ca" | "verify-full")) => {
                verify = true;
                kept.push("sslmode=require".to_owned());
            }
            Some(("sslrootcert", file)) => root_file = Some(file.to_owned()),
            _ => kept.push(pair.to_owned()),
        }
    }
    // libpq: with a root certificate file, `require` (and `prefer`) verify the chain too.
    let verify = verify || root_file.is_some();
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    TlsChoice {
        url,
        verify,
        root_file,
    }
}

/// The rustls client configuration for a choice.
pub(crate) fn client_config(choice: &TlsChoice) -> StoreResult<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Database(format!("TLS setup: {e}")))?;
    if !choice.verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly { provider }))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    if choice.root_file.is_none() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(file) = &choice.root_file {
        let pem = std::fs::read(file)
            .map_err(|e| StoreError::Database(format!("cannot read sslrootcert {file}: {e}")))?;
        for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate
                .map_err(|e| StoreError::Database(format!("sslrootcert {file}: {e}")))?;
            roots
                .add(certificate)
                .map_err(|e| StoreError::Database(format!("sslrootcert {file}: {e}")))?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// libpq's `prefer`/`require`: the channel is encrypted and the handshake signature checked,
/// but the certificate chain is not.
#[derive(Debug)]
struct EncryptOnly {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_become_require_with_verification() {
        let choice = tls_choice("postgres://u@db:5432/app?sslmode=verify-full&application_name=x");
        assert!(choice.verify);
        assert_eq!(
            choice.url,
            "postgres://u@db:5432/app?sslmode=require&application_name=x"
        );
        let choice = tls_choice("postgres://u@db/app?sslmode=require");
        assert!(!choice.verify);
        assert_eq!(choice.url, "postgres://u@db/app?sslmode=require");
        let choice = tls_choice("postgres://u@db/app?sslmode=require&sslrootcert=/etc/ca.pem");
        assert!(
            choice.verify,
            "a root file makes require verify, as in libpq"
        );
        assert_eq!(choice.root_file.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(choice.url, "postgres://u@db/app?sslmode=require");
        let choice = tls_choice("postgres://u@db/app");
        assert!(!choice.verify);
        assert_eq!(choice.url, "postgres://u@db/app");
    }
}
