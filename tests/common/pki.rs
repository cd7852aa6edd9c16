//! The one throwaway certificate authority of the tests (rcgen). The real-traffic client
//! and `mxproxy check --ca-file` trust only it; the proxies serve leaf certificates it
//! issued, as they would a real CA's; the checkers (`nginx -t`, …) load them too.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::CertificateDer;

pub struct TestCa {
    pub cert_der: CertificateDer<'static>,
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate and its key, written as PEM files.
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Chain then key, as HAProxy's `crt` reads them.
    pub combined: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
}

#[derive(Clone, Copy)]
pub enum Validity {
    Current,
    Expired,
    /// Valid, but ends in five days: a renewal that did not happen.
    EndsSoon,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("rcgen");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mxproxy test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("rcgen");
        let cert = params.self_signed(&key).expect("rcgen");
        TestCa {
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes the CA certificate to `dir/test-ca.pem`, for `--ca-file`.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("test-ca.pem");
        std::fs::write(&path, &self.cert_pem).unwrap();
        path
    }

    /// A current leaf for `names`, as `dir/test-cert.pem`, `-key.pem` and `-combined.pem`.
    pub fn issue(&self, dir: &Path, names: &[String]) -> TestCert {
        self.leaf(dir, "test", names, Validity::Current)
    }

    /// A leaf for `names`, written as `<stem>-cert.pem`, `<stem>-key.pem` and
    /// `<stem>-combined.pem` in `dir`.
    pub fn leaf(
        &self,
        dir: &Path,
        stem: &str,
        names: &[impl AsRef<str>],
        validity: Validity,
    ) -> TestCert {
        let names: Vec<String> = names.iter().map(|n| n.as_ref().to_string()).collect();
        let mut params = CertificateParams::new(names).expect("rcgen");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = match validity {
            Validity::Current => date_time_ymd(2099, 1, 1),
            Validity::Expired => date_time_ymd(2021, 1, 1),
            Validity::EndsSoon => {
                let (year, month, day) = date_in_days(5);
                date_time_ymd(year, month, day)
            }
        };
        let key = KeyPair::generate().expect("rcgen");
        let leaf = params.signed_by(&key, &self.issuer).expect("rcgen");
        let cert = TestCert {
            cert: dir.join(format!("{stem}-cert.pem")),
            key: dir.join(format!("{stem}-key.pem")),
            combined: dir.join(format!("{stem}-combined.pem")),
            cert_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
        };
        std::fs::write(&cert.cert, &cert.cert_pem).unwrap();
        std::fs::write(&cert.key, &cert.key_pem).unwrap();
        std::fs::write(&cert.combined, format!("{}{}", cert.cert_pem, cert.key_pem)).unwrap();
        cert
    }
}

/// Today plus `days`, as a civil date (H. Hinnant's days-to-civil algorithm).
fn date_in_days(days: i64) -> (i32, u8, u8) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let z = now / 86_400 + days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}
