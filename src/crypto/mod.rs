//! GOST cryptography through OpenSSL and the GOST engine.
