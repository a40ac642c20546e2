//! TLS for the project's HTTP clients (Port, and the model-driven AWS client): rustls with the
//! platform's root certificates, as reqwest would set it up, except that the roots are loaded
//! on the process's first TLS handshake instead of when a client is built. Loading them (about
//! 150 certificates from the system store) is a measurable part of a Lambda start-up, and a
//! process that only speaks plain HTTP (a local Port or AWS emulator) never needs them. All
//! clients share one verifier, so the roots are loaded once per process.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, OnceLock};

/// The TLS configuration of a reqwest client (`ClientBuilder::tls_backend_preconfigured`).
pub fn client_config() -> ClientConfig {
    let verifier = shared_verifier();
    let mut config = ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the default crypto provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // What reqwest sets for HTTP/1 clients.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

fn shared_verifier() -> Arc<LazyPlatformVerifier> {
    static SHARED: OnceLock<Arc<LazyPlatformVerifier>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            Arc::new(LazyPlatformVerifier {
                provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
                verifier: OnceLock::new(),
            })
        })
        .clone()
}

/// rustls-platform-verifier's verifier, made (roots loaded) on first use.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyPlatformVerifier {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    // Signatures need no roots: checked with the provider's algorithms, as the platform
    // verifier does.
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
    fn building_a_client_loads_no_roots() {
        let _ = reqwest::Client::builder()
            .tls_backend_preconfigured(client_config())
            .build()
            .unwrap();
        assert!(shared_verifier().verifier.get().is_none());
        // First use loads them (this machine has a system store).
        assert!(shared_verifier().verifier().is_ok());
    }
}
