//! X.509 certificates with GOST keys: loading, validity, and signature verification.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use openssl::x509::{X509NameRef, X509};

use super::alg::GostAlg;
use super::engine;
use super::error::{describe, CryptoError};
use super::key::{key_alg, PrivateKey};

/// An X.509 certificate, as found in `X509Certificate` of an XMLDSig `KeyInfo` or in the gateway's configuration.
///
/// It exists to verify signatures from SMEV and portals, to check that the gateway's own certificate is current
/// and belongs to its key, and to be embedded (as DER) into the signatures the gateway makes. Cloning is cheap.
///
/// Parsing loads the default GOST engine first when no engine is loaded yet (OpenSSL decodes the public key only
/// while parsing), so every constructor can fail with [`CryptoError::EngineUnavailable`].
#[derive(Clone)]
pub struct Certificate {
    x509: X509,
    der: Arc<[u8]>,
    not_before: i64,
    not_after: i64,
}

impl Certificate {
    /// Parses a certificate in PEM (recognised by `-----BEGIN`) or DER form.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self, CryptoError> {
        if is_pem(bytes) {
            Self::parse(bytes, true, "PEM data")
        } else {
            Self::parse(bytes, false, "DER data")
        }
    }

    /// Parses a DER certificate, such as the base64-decoded content of `ds:X509Certificate`.
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        Self::parse(der, false, "DER data")
    }

    /// Reads a PEM or DER certificate file.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let location = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| CryptoError::CertificateLoad { location: location.clone(), detail: e.to_string() })?;
        Self::parse(&bytes, is_pem(&bytes), &location)
    }

    fn parse(bytes: &[u8], pem: bool, location: &str) -> Result<Self, CryptoError> {
        // The engine must be loaded before parsing: OpenSSL decodes the public key at parse time only.
        engine::ready()?;
        let load_error = |detail: String| CryptoError::CertificateLoad { location: location.to_owned(), detail };
        let parsed = if pem { X509::from_pem(bytes) } else { X509::from_der(bytes) };
        let x509 = parsed.map_err(|e| load_error(describe(&e)))?;
        Self::from_x509(x509, location)
    }

    /// Wraps a parsed certificate (the engine is loaded by whoever parsed it).
    pub(crate) fn from_x509(x509: X509, location: &str) -> Result<Self, CryptoError> {
        let load_error = |detail: String| CryptoError::CertificateLoad { location: location.to_owned(), detail };
        let der = x509.to_der().map_err(|e| load_error(format!("cannot re-encode: {}", describe(&e))))?;
        let not_before =
            unix_time(x509.not_before()).map_err(|e| load_error(format!("unreadable notBefore: {}", describe(&e))))?;
        let not_after =
            unix_time(x509.not_after()).map_err(|e| load_error(format!("unreadable notAfter: {}", describe(&e))))?;
        Ok(Certificate { x509, der: der.into(), not_before, not_after })
    }

    /// The OpenSSL certificate, for chain checks in [`super::trust`].
    pub(crate) fn x509(&self) -> &X509 {
        &self.x509
    }

    /// The DER encoding as a slice, for comparing certificates without copying.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER encoding, for embedding into `ds:X509Certificate` (after base64).
    pub fn to_der(&self) -> Vec<u8> {
        self.der.to_vec()
    }

    /// The GOST suite of the certificate's public key; [`CryptoError::UnsupportedKey`] for any other key.
    pub fn alg(&self) -> Result<GostAlg, CryptoError> {
        let public = self.public_key()?;
        key_alg(&public)
    }

    /// The subject as one readable line (`O=..., OU=..., CN=...` in certificate order), for logs and errors.
    pub fn subject(&self) -> String {
        one_line_name(self.x509.subject_name())
    }

    /// The issuer as one readable line, in the same form as [`Certificate::subject`].
    pub fn issuer(&self) -> String {
        one_line_name(self.x509.issuer_name())
    }

    /// The serial number in decimal, as XMLDSig's `X509SerialNumber` writes it.
    pub fn serial_decimal(&self) -> Result<String, CryptoError> {
        let encode_error = |e: ErrorStack| CryptoError::Encode(describe(&e));
        let serial = self.x509.serial_number().to_bn().map_err(encode_error)?;
        let text = serial.to_dec_str().map_err(encode_error)?;
        Ok(text.to_string())
    }

    /// The start of the validity period, in seconds since the Unix epoch.
    pub fn not_before_unix(&self) -> i64 {
        self.not_before
    }

    /// The end of the validity period, in seconds since the Unix epoch.
    pub fn not_after_unix(&self) -> i64 {
        self.not_after
    }

    /// Checks that the certificate is valid at the given moment (both ends inclusive).
    ///
    /// Messages carry their own timestamps, so validity is checked at a given time as well as now.
    pub fn check_validity_at(&self, unix_secs: i64) -> Result<(), CryptoError> {
        if unix_secs < self.not_before {
            return Err(CryptoError::CertificateNotYetValid { not_before: format_unix(self.not_before) });
        }
        if unix_secs > self.not_after {
            return Err(CryptoError::CertificateExpired { not_after: format_unix(self.not_after) });
        }
        Ok(())
    }

    /// Checks that the certificate is valid at the current system time.
    pub fn check_validity_now(&self) -> Result<(), CryptoError> {
        self.check_validity_at(now_unix())
    }

    /// Verifies a raw GOST R 34.10-2012 signature (as OpenSSL's engine outputs it) over `data`.
    ///
    /// Returns `Ok(false)` for a signature that does not match, including one of the wrong length;
    /// `Err` only when verification cannot run (a non-GOST key, a missing engine).
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
        let pkey = self.public_key()?;
        let alg = key_alg(&pkey)?;
        if signature.len() != alg.signature_len() {
            return Ok(false);
        }
        let md = alg.message_digest()?;
        let verify_error = |e: ErrorStack| CryptoError::Verify(describe(&e));
        let mut verifier = Verifier::new(md, &pkey).map_err(verify_error)?;
        verifier.update(data).map_err(verify_error)?;
        verifier.verify(signature).map_err(verify_error)
    }

    /// Tells whether this certificate was signed by `issuer`'s key, for checking peers against a trusted CA.
    pub fn is_signed_by(&self, issuer: &Certificate) -> Result<bool, CryptoError> {
        let issuer_key = issuer.public_key()?;
        self.x509.verify(&issuer_key).map_err(|e| CryptoError::Verify(describe(&e)))
    }

    /// Tells whether `key` is the private half of this certificate's public key, so that a misconfigured
    /// certificate/key pair is caught at start-up instead of by SMEV rejecting every message.
    pub fn matches_key(&self, key: &PrivateKey) -> bool {
        match self.public_key() {
            Ok(public) => public.public_eq(key.pkey()),
            Err(_) => false,
        }
    }

    fn public_key(&self) -> Result<PKey<Public>, CryptoError> {
        self.x509.public_key().map_err(|e| CryptoError::UnsupportedKey {
            detail: format!("the certificate's public key cannot be decoded: {}", describe(&e)),
        })
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("not_before", &format_unix(self.not_before))
            .field("not_after", &format_unix(self.not_after))
            .finish()
    }
}

fn is_pem(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    bytes[start..].starts_with(b"-----BEGIN")
}

fn one_line_name(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|entry| {
            let object = entry.object();
            let key = object.nid().short_name().map(str::to_owned).unwrap_or_else(|_| object.to_string());
            let value = entry
                .data()
                .to_string()
                .unwrap_or_else(|_| String::from_utf8_lossy(entry.data().as_slice()).into_owned());
            format!("{key}={value}")
        })
        .collect();
    parts.join(", ")
}

/// Converts an ASN.1 time to seconds since the Unix epoch.
fn unix_time(time: &Asn1TimeRef) -> Result<i64, ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(time)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

fn now_unix() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` for error messages.
pub(crate) fn format_unix(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

/// Turns a count of days since 1970-01-01 into a proleptic Gregorian (year, month, day).
///
/// The calendar repeats every 400 years (146,097 days), so the date is found inside a 400-year cycle counted from
/// 0000-03-01: starting the year in March puts the leap day last, which keeps the month arithmetic linear.
fn civil_date(days_since_epoch: i64) -> (i64, i64, i64) {
    const DAYS_PER_CYCLE: i64 = 146_097;
    // 1970-01-01 is 719,468 days after 0000-03-01.
    let days = days_since_epoch + 719_468;
    let cycle = days.div_euclid(DAYS_PER_CYCLE);
    let day_of_cycle = days.rem_euclid(DAYS_PER_CYCLE);
    let year_of_cycle = (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    // Months counted from March = 0; 153 days make each five-month run (31+30+31+30+31).
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = cycle * 400 + year_of_cycle + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::format_unix;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(1_609_459_200), "2021-01-01T00:00:00Z");
        assert_eq!(format_unix(1_609_459_199), "2020-12-31T23:59:59Z");
        assert_eq!(format_unix(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_unix(2_524_608_000), "2050-01-01T00:00:00Z");
    }
}
